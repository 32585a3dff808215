"""Property: whatever settlements, reversals, doubts and reviews happen over the months, and
whether negative months are recovered or carried, every statement reconciles to the fen, no
disputed money is ever paid, and once every doubt is decided and every statement settled the
institution's receivables are exactly cleared."""

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
from app.insurance import flags as flag_service
from app.insurance import repository as insurance_repository
from app.insurance import settlement as settlement_service
from app.insurance import statements as statement_service
from app.kit.clock import frozen_at
from app.models import LedgerEntry, Role, Settlement, Statement
from app.payment import reconciliation
from tests.fixtures import databases, factories
from tests.insurance import world as w

MONTHS = ("2026-03", "2026-04", "2026-05", "2026-06")
OP = st.one_of(
    st.tuples(st.just("settle"), st.integers(1, 25)),
    st.tuples(st.just("reverse"), st.integers(0, 30)),
    st.tuples(st.just("flag"), st.integers(0, 30)),
    st.tuples(st.just("confirm"), st.integers(0, 30)),
    st.tuples(st.just("reject"), st.integers(0, 30)),
)
MONTH = st.tuples(st.lists(OP, max_size=7), st.booleans())  # ops, recover a negative payable?
SCENARIO = st.tuples(
    st.lists(MONTH, min_size=2, max_size=len(MONTHS)), st.lists(st.booleans(), max_size=30)
)


def _at(month: str, day: int) -> datetime:
    return datetime(int(month[:4]), int(month[5:]), day, 4, tzinfo=UTC)


def _next(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


async def _bureau(session: AsyncSession) -> Principal:
    account = await factories.account(session, Role.bureau)
    return Principal(account.id, uuid.uuid4(), Role.bureau, account.display_name)


async def _attempt(session: AsyncSession, work) -> None:  # type: ignore[no-untyped-def]
    try:
        async with session.begin_nested():
            await work()
    except Conflict:
        pass


async def _close(
    session: AsyncSession, clerk: Principal, world: w.World, month: str, recover: bool
) -> Statement:
    with frozen_at(_at(_next(month), 2)):
        statement = await statement_service.generate(session, clerk, world.institution.id, month)
        await statement_service.confirm(session, clerk, statement.id)
        payable = statement.payable_fen
        if payable >= 0:
            await statement_service.record_payment(
                session, clerk, statement.id, payable, f"YB-{month}", _at(_next(month), 2).date()
            )
        elif recover:
            await statement_service.record_recovery(
                session, clerk, statement.id, -payable, f"TH-{month}", _at(_next(month), 2).date()
            )
    return statement


async def _scenario(session: AsyncSession, months: list, decisions: list[bool]) -> None:
    world = await w.build(session)
    patient = await w.patient(session)
    reviewers = [await _bureau(session), await _bureau(session)]
    clerk = reviewers[0]
    booked: list[Settlement] = []
    statements: list[Statement] = []
    for (ops, recover), month in zip(months, MONTHS, strict=False):
        for step, (op, arg) in enumerate(ops):
            with frozen_at(_at(month, 3 + step)):
                if op == "settle":
                    claim = w.claim(
                        world, patient, [(world.full, arg)], moment=_at(month, 3 + step)
                    )
                    booked.append(await settlement_service.settle(session, claim, w.message_id()))
                    continue
                if not booked:
                    continue
                row = booked[arg % len(booked)]
                if op == "reverse":
                    await _attempt(
                        session,
                        lambda row=row: settlement_service.reverse(
                            session, row.id, "failed", w.message_id()
                        ),
                    )
                elif op == "flag":
                    reviewer = reviewers[arg % 2]
                    await _attempt(
                        session,
                        lambda row=row, reviewer=reviewer: flag_service.flag(
                            session, reviewer, row.id, "存疑"
                        ),
                    )
                else:
                    await _attempt(
                        session,
                        lambda row=row, op=op: flag_service.review(
                            session, clerk, row.id, f"{op}ed", "审核"
                        ),
                    )
        statements.append(await _close(session, clerk, world, month, recover))
    # Every doubt still open is decided; the month after the last one pays what that releases.
    final = _next(MONTHS[len(statements) - 1])
    for index, row in enumerate(booked):
        confirmed = decisions[index] if index < len(decisions) else True
        with frozen_at(_at(final, 5)):
            await _attempt(
                session,
                lambda row=row, confirmed=confirmed: flag_service.review(
                    session, clerk, row.id, "confirmed" if confirmed else "rejected", "终审"
                ),
            )
    statements.append(await _close(session, clerk, world, final, recover=True))
    await _check(session, world, statements, booked)


async def _check(
    session: AsyncSession, world: w.World, statements: list[Statement], booked: list[Settlement]
) -> None:
    for statement in statements:
        await session.refresh(statement)
        report = await reconciliation.reconcile(session, statement.id)
        assert [d for d in report.differences if d.kind != "personal_share_unpaid"] == [], report
        assert statement.status in ("paid", "recovered", "carried")
    rows = (
        await session.scalars(
            select(Settlement).where(Settlement.institution_id == world.institution.id)
        )
    ).all()
    assert sum(s.fund_fen + s.account_fen for s in statements) == sum(
        r.fund_fen + r.account_fen for r in rows
    )
    # Nothing held is left but rejected claims, whose reversal is held with them.
    receivable = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.institution_id == world.institution.id,
            LedgerEntry.account.in_(("fund_receivable", "account_receivable")),
        )
    )
    assert receivable == 0
    remitted = sum((s.paid_fen or 0) for s in statements if s.status in statement_service.SETTLED)
    paid_claims = 0
    reversals = await insurance_repository.reversals_of(session, [r.id for r in booked])
    for row in booked:
        if row.id in reversals:
            continue  # reversed: paid and recovered, or never paid
        paid_claims += row.fund_fen + row.account_fen
    assert remitted == paid_claims


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=SCENARIO)
def test_disputes_and_negative_months_reconcile_to_the_fen(database_url: str, scenario) -> None:
    months, decisions = scenario

    async def work(session: AsyncSession) -> None:
        await _scenario(session, months, decisions)

    asyncio.run(databases.in_rolled_back_session(database_url, work))
