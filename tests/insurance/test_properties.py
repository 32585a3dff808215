"""Property: any sequence of settlements, failures, retries, payments and reversals leaves the
ledger balanced, the limit and deductible respected, and the month's statement equal to it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.errors import Conflict
from app.insurance import reconciliation
from app.insurance import repository as insurance_repository
from app.insurance import settlement as settlement_service
from app.insurance import statements as statement_service
from app.kit.clock import frozen_at
from app.models import InsuranceQuota, InsuranceQuotaDisease, LedgerEntry, Role, Settlement
from app.payment import service as payment_service
from app.payment.schemas import HandOverPayment
from tests.fixtures import databases, factories
from tests.insurance import world as w

LINES = st.lists(
    st.tuples(st.sampled_from(["full", "partial", "self_pay"]), st.integers(1, 40)),
    min_size=1,
    max_size=3,
)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("settle"), LINES, st.integers(0, 5_000)),
        st.tuples(st.just("fail"), LINES, st.just(0)),
        st.tuples(st.just("retry"), st.integers(0, 20), st.just(0)),
        st.tuples(st.just("reverse"), st.integers(0, 20), st.just(0)),
        st.tuples(st.just("pay"), st.integers(0, 20), st.sampled_from(["cash", "card"])),
    ),
    min_size=1,
    max_size=14,
)


async def _principal(session: AsyncSession, role: Role) -> Principal:
    account = await factories.account(session, role)
    return Principal(account.id, uuid.uuid4(), role, account.display_name)


async def _scenario(session: AsyncSession, ops: list[tuple]) -> None:
    world = await w.build(session)
    patient = await w.patient(session)
    drugs = {"full": world.full, "partial": world.partial, "self_pay": world.self_pay}
    booked: list[tuple[Settlement, object, str]] = []
    courier = await _principal(session, Role.courier)
    for step, (op, arg, extra) in enumerate(ops):
        moment = datetime(w.YEAR, 3, 1 + step, 4, tzinfo=UTC)
        with frozen_at(moment):
            if op in ("settle", "fail"):
                claim = w.claim(
                    world,
                    patient,
                    [(drugs[c], q) for c, q in arg],
                    moment=moment,
                    account_balance_fen=extra,
                )
                if op == "fail":  # refused claims must leave nothing behind
                    claim = claim.model_copy(update={"insurance_type": "390"})
                try:
                    async with session.begin_nested():
                        message = w.message_id()
                        row = await settlement_service.settle(session, claim, message)
                        booked.append((row, claim, message))
                except Conflict:
                    assert op == "fail"
            elif booked and op == "retry":
                row, claim, message = booked[arg % len(booked)]
                assert (await settlement_service.settle(session, claim, message)).id == row.id
            elif booked and op == "reverse":
                row, _, _ = booked[arg % len(booked)]
                if await insurance_repository.reversal_of(session, row.id) is None:
                    await settlement_service.reverse(session, row.id, "failed", w.message_id())
            elif booked and op == "pay":
                row, _, _ = booked[arg % len(booked)]
                outstanding = await payment_service.outstanding_fen(session, row)
                if outstanding > 0:
                    await payment_service.record_hand_over(
                        session,
                        courier,
                        row,
                        HandOverPayment(
                            method=extra, amount_fen=outstanding, collection_id=uuid.uuid4()
                        ),
                    )
    await _check(session, world, patient)


async def _check(session: AsyncSession, world: w.World, patient) -> None:
    entries = LedgerEntry.institution_id == world.institution.id
    unbalanced = await session.scalar(
        select(func.count()).select_from(
            select(LedgerEntry.transaction_id)
            .where(entries)
            .group_by(LedgerEntry.transaction_id)
            .having(func.sum(LedgerEntry.amount_fen) != 0)
            .subquery()
        )
    )
    assert unbalanced == 0

    async def account(name: str) -> int:
        return int(
            await session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                    entries, LedgerEntry.account == name
                )
            )
        )

    usage = await session.get(InsuranceQuotaDisease, (patient.id, w.YEAR, world.disease.id))
    quota = await session.get(InsuranceQuota, (patient.id, w.YEAR))
    used = usage.limit_used_fen if usage else 0
    met = quota.deductible_met_fen if quota else 0
    assert used == await account("limit_used") <= w.LIMIT
    assert met == await account("deductible_met") <= w.DEDUCTIBLE
    with frozen_at(datetime(w.YEAR, 4, 2, tzinfo=UTC)):
        statement = await statement_service.generate(
            session, await _principal(session, Role.bureau), world.institution.id, "2026-03"
        )
    assert statement.fund_fen == await account("fund_receivable")
    assert statement.account_fen == await account("account_receivable")
    assert statement.total_fen == -(await account("drug_supply"))
    report = await reconciliation.reconcile(session, statement.id)
    assert [d for d in report.differences if not d.kind.startswith("personal_share_unpaid")] == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_random_sequences_keep_the_books_straight(database_url: str, ops: list[tuple]) -> None:
    async def work(session: AsyncSession) -> None:
        await _scenario(session, ops)

    asyncio.run(databases.in_rolled_back_session(database_url, work))
