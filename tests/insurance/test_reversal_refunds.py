"""A reversal gives the patient's payments back through the refunds payment installs (insurance
does not import payment, which sits above it)."""

from __future__ import annotations

import pytest

from app.insurance import settlement as settlement_service
from app.models import Settlement
from app.payment import refunds
from tests.insurance import world as w


def test_payment_installs_its_refunds_of_reversals() -> None:
    assert settlement_service._reversal_refunds == {"installed": refunds.refund_reversed}


async def test_every_reversal_calls_the_installed_refunds_in_its_transaction(
    db_session, monkeypatch
) -> None:
    calls: list[tuple[Settlement, Settlement]] = []

    async def recording(session, original: Settlement, reversal: Settlement) -> None:
        assert session is db_session
        calls.append((original, reversal))

    monkeypatch.setattr(settlement_service, "_reversal_refunds", {})
    settlement_service.refund_reversals_with(recording)
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    row = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 5)]), w.message_id()
    )
    message = w.message_id()
    reversal = await settlement_service.reverse(db_session, row.id, "delivery failed", message)
    assert [(o.id, r.id) for o, r in calls] == [(row.id, reversal.id)]
    # A retried reversal (same message id) finds the first one and refunds nothing again.
    await settlement_service.reverse(db_session, row.id, "delivery failed", message)
    assert len(calls) == 1


async def test_a_reversal_with_no_refunds_installed_fails_instead_of_keeping_the_money(
    db_session, monkeypatch
) -> None:
    monkeypatch.setattr(settlement_service, "_reversal_refunds", {})
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    row = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 5)]), w.message_id()
    )
    with pytest.raises(settlement_service.RefundsNotInstalled):
        await settlement_service.reverse(db_session, row.id, "delivery failed", w.message_id())
