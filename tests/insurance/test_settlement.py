"""Pre-settlement, settlement and reversal through the service functions the order flow calls."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.errors import Conflict
from app.insurance import settlement as settlement_service
from app.kit.clock import frozen_at
from app.models import InsuranceQuota, InsuranceQuotaDisease, LedgerEntry, Settlement
from tests.insurance import world as w


async def _ledger_sum(session, **where) -> int:
    statement = select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0))
    for name, value in where.items():
        statement = statement.where(getattr(LedgerEntry, name) == value)
    return int(await session.scalar(statement))


async def test_presettlement_shows_the_split_and_books_nothing(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    quote = await settlement_service.presettle(
        db_session, w.claim(world, patient, [(world.full, 15)])
    )
    assert (quote.total_fen, quote.deductible_fen, quote.fund_fen, quote.cash_fen) == (
        30_000,
        10_000,
        14_000,
        16_000,
    )
    assert quote.limit_remaining_fen == w.LIMIT - 14_000
    assert (
        await db_session.scalar(
            select(func.count()).select_from(Settlement).where(Settlement.patient_id == patient.id)
        )
        == 0
    )
    assert await _ledger_sum(db_session, patient_id=patient.id) == 0
    assert await db_session.get(InsuranceQuota, (patient.id, w.YEAR)) is None


async def test_settlement_books_a_balanced_transaction(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    row = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 15), (world.self_pay, 1)]), w.message_id()
    )
    assert row.total_fen == row.fund_fen + row.personal_fen == 31_000
    entries = (
        await db_session.scalars(select(LedgerEntry).where(LedgerEntry.settlement_id == row.id))
    ).all()
    assert sum(e.amount_fen for e in entries) == 0
    assert {e.account: e.amount_fen for e in entries}["fund_receivable"] == 14_000


async def test_deductible_is_applied_once_per_year(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    first = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 3)]), w.message_id()
    )
    second = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 10)]), w.message_id()
    )
    assert (first.deductible_fen, second.deductible_fen) == (6_000, 4_000)
    third = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 1)]), w.message_id()
    )
    assert third.deductible_fen == 0


async def test_annual_limit_is_never_exceeded(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    fund = 0
    for _ in range(5):
        row = await settlement_service.settle(
            db_session, w.claim(world, patient, [(world.full, 50)]), w.message_id()
        )
        fund += row.fund_fen
    assert fund == w.LIMIT
    assert row.fund_fen < 70_000 and row.limit_remaining_fen == 0
    usage = await db_session.get(InsuranceQuotaDisease, (patient.id, w.YEAR, world.disease.id))
    assert usage.limit_used_fen == w.LIMIT


async def test_retried_settlement_with_the_same_message_id_books_once(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    claim = w.claim(world, patient, [(world.full, 5)])
    message = w.message_id()
    first = await settlement_service.settle(db_session, claim, message)
    again = await settlement_service.settle(db_session, claim, message)
    assert again.id == first.id
    assert await _ledger_sum(db_session, account="fund_receivable", patient_id=patient.id) == (
        first.fund_fen
    )


async def test_message_id_reused_for_another_order_is_refused(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    message = w.message_id()
    await settlement_service.settle(db_session, w.claim(world, patient, [(world.full, 5)]), message)
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(
            db_session, w.claim(world, patient, [(world.full, 5)]), message
        )
    assert caught.value.code == "message_id_reused"


async def test_an_order_is_settled_only_once_until_reversed(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    claim = w.claim(world, patient, [(world.full, 5)])
    first = await settlement_service.settle(db_session, claim, w.message_id())
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(db_session, claim, w.message_id())
    assert caught.value.code == "order_already_settled"
    await settlement_service.reverse(db_session, first.id, "redelivery", w.message_id())
    again = await settlement_service.settle(db_session, claim, w.message_id())
    assert again.id != first.id


async def test_reversal_restores_limit_and_deductible_as_new_entries(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    row = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 15)]), w.message_id()
    )
    message = w.message_id()
    reversal = await settlement_service.reverse(db_session, row.id, "delivery failed", message)
    assert reversal.kind == "reversal" and reversal.fund_fen == -row.fund_fen
    quota = await db_session.get(InsuranceQuota, (patient.id, w.YEAR))
    usage = await db_session.get(InsuranceQuotaDisease, (patient.id, w.YEAR, world.disease.id))
    assert (quota.deductible_met_fen, usage.limit_used_fen) == (0, 0)
    assert await _ledger_sum(db_session, account="limit_used", patient_id=patient.id) == 0
    assert await _ledger_sum(db_session, account="deductible_met", patient_id=patient.id) == 0
    assert await _ledger_sum(db_session, patient_id=patient.id) == 0
    count = await db_session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.patient_id == patient.id)
    )
    assert count == 14  # 7 non-zero postings booked, 7 mirrored: nothing was rewritten
    assert (await settlement_service.reverse(db_session, row.id, "x", message)).id == reversal.id
    with pytest.raises(Conflict) as caught:
        await settlement_service.reverse(db_session, row.id, "again", w.message_id())
    assert caught.value.code == "settlement_already_reversed"


async def test_settlement_is_recomputed_at_hand_over(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    quote = await settlement_service.presettle(
        db_session, w.claim(world, patient, [(world.full, 10)])
    )
    await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 5)]), w.message_id()
    )
    row = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 10)]), w.message_id()
    )
    assert quote.deductible_fen == 10_000
    assert row.deductible_fen == 0  # the quota changed between quote and hand-over


async def test_a_later_rule_version_applies_from_its_date_and_history_keeps_its_rule(
    db_session,
) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    march = await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 20)]), w.message_id()
    )
    newer = await w.rule(
        db_session,
        world.disease,
        version=2,
        effective_from=date(w.YEAR, 4, 1),
        reimbursement_bp=8_000,
    )
    april = await settlement_service.settle(
        db_session,
        w.claim(world, patient, [(world.full, 20)], moment=w.APRIL_FIRST),
        w.message_id(),
    )
    assert march.benefit_rule_id == world.rule.id
    assert april.benefit_rule_id == newer.id
    assert april.fund_fen == 32_000  # 80% of 400.00, deductible met in March


async def test_claim_without_a_rule_in_force_is_refused(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session, insurance_type="390")
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(
            db_session, w.claim(world, patient, [(world.full, 1)]), w.message_id()
        )
    assert caught.value.code == "benefit_rule_missing"


async def test_claim_insurance_type_must_match_the_patient(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    claim = w.claim(world, patient, [(world.full, 1)]).model_copy(update={"insurance_type": "390"})
    with pytest.raises(Conflict) as caught:
        await settlement_service.settle(db_session, claim, w.message_id())
    assert caught.value.code == "insurance_type_mismatch"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE insurance_ledger_entries SET amount_fen = 1",
        "DELETE FROM insurance_ledger_entries",
        "UPDATE insurance_settlements SET fund_fen = 0",
        "DELETE FROM insurance_benefit_rules",
    ],
)
async def test_history_is_append_only_in_the_database(db_session, statement: str) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    await settlement_service.settle(
        db_session, w.claim(world, patient, [(world.full, 5)]), w.message_id()
    )
    await db_session.commit()  # releases the savepoint; the test transaction still rolls back
    with pytest.raises((DBAPIError, IntegrityError)):
        async with db_session.begin_nested():
            await db_session.execute(text(statement))


async def test_settled_at_is_the_clock_at_hand_over(db_session) -> None:
    world = await w.build(db_session)
    patient = await w.patient(db_session)
    with frozen_at(w.MARCH):
        row = await settlement_service.settle(
            db_session, w.claim(world, patient, [(world.full, 1)]), w.message_id()
        )
    assert row.settled_at == w.MARCH
