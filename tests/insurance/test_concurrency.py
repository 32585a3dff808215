"""Concurrent settlements of one patient on PostgreSQL, against committed data."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.db import create_sessionmaker, unit_of_work
from app.insurance import settlement as settlement_service
from app.models import InsuranceQuotaDisease, LedgerEntry, Settlement
from tests.insurance import world as w

pytestmark = pytest.mark.postgres


@pytest.fixture
async def committed(engine):
    """A world and patient committed for real (other connections must see them)."""
    sessionmaker = create_sessionmaker(engine)
    async with unit_of_work(sessionmaker) as session:
        world = await w.build(session)
        patient = await w.patient(session)
    return sessionmaker, world, patient


async def _settle(sessionmaker, claim, message_id: str) -> Settlement:
    async with unit_of_work(sessionmaker) as session:
        return await settlement_service.settle(session, claim, message_id)


async def test_parallel_settlements_never_exceed_the_annual_limit(committed) -> None:
    sessionmaker, world, patient = committed
    claims = [w.claim(world, patient, [(world.full, 50)]) for _ in range(8)]
    rows = await asyncio.gather(*(_settle(sessionmaker, c, w.message_id()) for c in claims))
    assert sum(r.fund_fen for r in rows) == w.LIMIT
    assert sum(r.deductible_fen for r in rows) == w.DEDUCTIBLE
    async with sessionmaker() as session:
        usage = await session.get(InsuranceQuotaDisease, (patient.id, w.YEAR, world.disease.id))
        booked = await session.scalar(
            select(func.sum(LedgerEntry.amount_fen)).where(
                LedgerEntry.patient_id == patient.id, LedgerEntry.account == "limit_used"
            )
        )
    assert usage.limit_used_fen == booked == w.LIMIT


async def test_thirty_parallel_hand_overs_hold_each_disease_s_own_limit(engine) -> None:
    sessionmaker = create_sessionmaker(engine)
    other_limit = 90_000
    async with unit_of_work(sessionmaker) as session:
        diabetes = await w.build(session)
        hypertension = await w.second_disease(
            session, diabetes, {"310": other_limit, "390": other_limit}
        )
        patient = await w.patient(session)
    worlds = [diabetes, hypertension] * 15
    rows = await asyncio.gather(
        *(
            _settle(sessionmaker, w.claim(world, patient, [(world.full, 50)]), w.message_id())
            for world in worlds
        )
    )
    paid = {
        world.disease.id: sum(r.fund_fen for r in rows if r.disease_id == world.disease.id)
        for world in (diabetes, hypertension)
    }
    assert paid == {diabetes.disease.id: w.LIMIT, hypertension.disease.id: other_limit}
    assert sum(r.deductible_fen for r in rows) == w.DEDUCTIBLE
    async with sessionmaker() as session:
        for world, limit in ((diabetes, w.LIMIT), (hypertension, other_limit)):
            usage = await session.get(InsuranceQuotaDisease, (patient.id, w.YEAR, world.disease.id))
            assert usage.limit_used_fen == limit


async def test_parallel_retries_of_one_settlement_book_it_once(committed) -> None:
    sessionmaker, world, patient = committed
    claim = w.claim(world, patient, [(world.full, 5)])
    message = w.message_id()
    rows = await asyncio.gather(*(_settle(sessionmaker, claim, message) for _ in range(5)))
    assert len({r.id for r in rows}) == 1
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Settlement)
            .where(Settlement.order_id == claim.order_id)
        )
    assert count == 1


async def test_parallel_settlement_and_reversal_keep_the_quota_consistent(committed) -> None:
    sessionmaker, world, patient = committed
    first = await _settle(sessionmaker, w.claim(world, patient, [(world.full, 50)]), w.message_id())

    async def reverse() -> None:
        async with unit_of_work(sessionmaker) as session:
            await settlement_service.reverse(session, first.id, "returned", w.message_id())

    await asyncio.gather(
        reverse(),
        *(
            _settle(sessionmaker, w.claim(world, patient, [(world.full, 50)]), w.message_id())
            for _ in range(4)
        ),
    )
    async with sessionmaker() as session:
        usage = await session.get(InsuranceQuotaDisease, (patient.id, w.YEAR, world.disease.id))
        booked = await session.scalar(
            select(func.sum(LedgerEntry.amount_fen)).where(
                LedgerEntry.patient_id == patient.id, LedgerEntry.account == "limit_used"
            )
        )
    assert usage.limit_used_fen == booked <= w.LIMIT


async def test_an_unbalanced_transaction_cannot_commit(committed) -> None:
    sessionmaker, world, _ = committed
    with pytest.raises(DBAPIError, match="does not balance"):
        async with unit_of_work(sessionmaker) as session:
            await session.execute(
                text(
                    "INSERT INTO insurance_ledger_entries "
                    "(transaction_id, kind, account, amount_fen, institution_id, posted_at) "
                    "VALUES (:t, 'payment', 'collected_cash', 100, :i, now())"
                ),
                {"t": uuid.uuid4(), "i": world.institution.id},
            )
