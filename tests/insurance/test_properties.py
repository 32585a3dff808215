"""Property: any sequence of settlements, failures, retries, payments, reversals and cash
hand-backs leaves the ledger balanced, the limit and deductible respected, and the month's
statement equal to it; a refund not yet handed back shows as what the patient is still owed."""

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
from app.insurance import repository as insurance_repository
from app.insurance import settlement as settlement_service
from app.insurance import statements as statement_service
from app.kit.clock import frozen_at
from app.models import (
    InsuranceQuota,
    InsuranceQuotaDisease,
    LedgerEntry,
    Payment,
    PaymentRefund,
    Role,
    Settlement,
)
from app.payment import reconciliation, refunds
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
        st.tuples(st.just("hand_back"), st.integers(0, 20), st.just(0)),
    ),
    min_size=1,
    max_size=14,
)


async def _principal(
    session: AsyncSession, role: Role, store_id: uuid.UUID | None = None
) -> Principal:
    account = await factories.account(session, role)
    return Principal(account.id, uuid.uuid4(), role, account.display_name, store_id=store_id)


async def _pending(
    session: AsyncSession, patient_id: uuid.UUID
) -> list[tuple[PaymentRefund, uuid.UUID]]:
    """The patient's refunds still to hand back, with their settlement."""
    rows = await session.execute(
        select(PaymentRefund, Payment.settlement_id)
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .where(PaymentRefund.status == "requested", Payment.patient_id == patient_id)
        .order_by(PaymentRefund.created_at, PaymentRefund.id)
        .execution_options(populate_existing=True)
    )
    return [(refund, settlement_id) for refund, settlement_id in rows]


async def _scenario(session: AsyncSession, ops: list[tuple]) -> None:
    world = await w.build(session)
    patient = await w.patient(session)
    drugs = {"full": world.full, "partial": world.partial, "self_pay": world.self_pay}
    booked: list[tuple[Settlement, object, str]] = []
    courier = await _principal(session, Role.courier, world.store.id)
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
            elif op == "hand_back" and (pending := await _pending(session, patient.id)):
                refund, _ = pending[arg % len(pending)]
                await refunds.hand_back(session, courier, refund.id)
    await _check(session, world, patient, courier)


async def _check(session: AsyncSession, world: w.World, patient, courier: Principal) -> None:
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
    # Cash not handed back yet is still the institution's and owed to the patient.
    owed: dict[uuid.UUID, int] = {}
    for refund, settlement_id in await _pending(session, patient.id):
        owed[settlement_id] = owed.get(settlement_id, 0) + refund.amount_fen
    report = await reconciliation.reconcile(session, statement.id)
    assert {
        d.settlement_id: d.difference_fen
        for d in report.differences
        if not d.kind.startswith("personal_share_unpaid")
    } == owed
    assert all(
        d.kind == "personal_share_overpaid" for d in report.differences if d.settlement_id in owed
    )
    # Once the courier has handed everything back, nothing but unpaid shares remains.
    for refund, _ in await _pending(session, patient.id):
        await refunds.hand_back(session, courier, refund.id)
    report = await reconciliation.reconcile(session, statement.id)
    assert [d for d in report.differences if not d.kind.startswith("personal_share_unpaid")] == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS)
def test_random_sequences_keep_the_books_straight(database_url: str, ops: list[tuple]) -> None:
    async def work(session: AsyncSession) -> None:
        await _scenario(session, ops)

    asyncio.run(databases.in_rolled_back_session(database_url, work))
