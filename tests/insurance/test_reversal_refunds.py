"""A reversal gives the patient's payments back: insurance records `SettlementReversed` in the
reversal's transaction, and the wiring has payment's refunds subscribe to it (insurance does
not import payment, which sits above it)."""

from __future__ import annotations

from app import events, wiring
from app.insurance import settlement as settlement_service
from app.insurance.facts import SettlementReversed
from tests.insurance import world as w


def test_the_wiring_refunds_every_reversal_in_its_transaction() -> None:
    wiring.wire()
    in_transaction, _ = events.dispatcher.subscribers(SettlementReversed)
    assert wiring.refund_reversal in in_transaction


async def test_a_reversal_is_recorded_once_even_when_retried(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    row = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 5)]), w.message_id()
    )
    message = w.message_id()
    reversal = await settlement_service.reverse(db_session, row.id, "delivery failed", message)
    # A retried reversal (same message id) finds the first one and refunds nothing again.
    await settlement_service.reverse(db_session, row.id, "delivery failed", message)
    reversed_ = [e for e in events.recorded(db_session) if isinstance(e, SettlementReversed)]
    assert [(e.original.id, e.reversal.id) for e in reversed_] == [(row.id, reversal.id)]
