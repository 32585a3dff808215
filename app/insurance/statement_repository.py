"""SQL for monthly statements and the ledger sums reconciliation compares them with."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ChronicDisease, LedgerEntry, Settlement, Statement, StatementLine


async def statement_of(
    session: AsyncSession, institution_id: uuid.UUID, month: str
) -> Statement | None:
    """The statement of an institution and month, if generated."""
    return await session.scalar(
        select(Statement).where(
            Statement.institution_id == institution_id, Statement.month == month
        )
    )


async def get_statement(session: AsyncSession, statement_id: uuid.UUID) -> Statement | None:
    """A statement by id."""
    return await session.get(Statement, statement_id)


async def list_statements(
    session: AsyncSession, institution_id: uuid.UUID | None, month: str | None
) -> Sequence[Statement]:
    """Statements, newest month first, optionally of one institution or month."""
    statement = select(Statement)
    if institution_id is not None:
        statement = statement.where(Statement.institution_id == institution_id)
    if month is not None:
        statement = statement.where(Statement.month == month)
    return (
        await session.scalars(statement.order_by(Statement.month.desc(), Statement.id).limit(500))
    ).all()


async def settlements_between(
    session: AsyncSession, institution_id: uuid.UUID, start: datetime, end: datetime
) -> Sequence[Settlement]:
    """Settlements and reversals an institution booked in [start, end), in booking order."""
    return (
        await session.scalars(
            select(Settlement)
            .where(
                Settlement.institution_id == institution_id,
                Settlement.settled_at >= start,
                Settlement.settled_at < end,
            )
            .order_by(Settlement.settled_at, Settlement.id)
        )
    ).all()


async def add_lines(
    session: AsyncSession, statement_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> None:
    """Freeze which settlements a statement covers."""
    if ids:
        await session.execute(
            insert(StatementLine),
            [{"statement_id": statement_id, "settlement_id": i} for i in ids],
        )


async def statement_settlements(
    session: AsyncSession, statement_id: uuid.UUID
) -> Sequence[Settlement]:
    """The settlements and reversals a statement covers, in booking order."""
    return (
        await session.scalars(
            select(Settlement)
            .join(StatementLine, StatementLine.settlement_id == Settlement.id)
            .where(StatementLine.statement_id == statement_id)
            .order_by(Settlement.settled_at, Settlement.id)
        )
    ).all()


async def disease_codes(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Local disease codes by id."""
    if not ids:
        return {}
    rows = await session.execute(
        select(ChronicDisease.id, ChronicDisease.code).where(ChronicDisease.id.in_(ids))
    )
    return dict(rows.all())


async def ledger_sums(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID], kinds: Sequence[str]
) -> dict[tuple[uuid.UUID, str], int]:
    """Ledger totals per (settlement, account) over entries of the given kinds."""
    if not settlement_ids:
        return {}
    rows = await session.execute(
        select(LedgerEntry.settlement_id, LedgerEntry.account, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.settlement_id.in_(settlement_ids), LedgerEntry.kind.in_(kinds))
        .group_by(LedgerEntry.settlement_id, LedgerEntry.account)
    )
    return {
        (settlement_id, account): int(total)
        for settlement_id, account, total in rows
        if settlement_id is not None
    }


async def unbalanced_transactions(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, int]]:
    """Transactions touching these settlements whose entries do not sum to zero."""
    if not settlement_ids:
        return []
    touched = select(LedgerEntry.transaction_id).where(
        LedgerEntry.settlement_id.in_(settlement_ids)
    )
    rows = await session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.transaction_id.in_(touched))
        .group_by(LedgerEntry.transaction_id)
        .having(func.sum(LedgerEntry.amount_fen) != 0)
    )
    return [(transaction_id, int(total)) for transaction_id, total in rows]


async def collected_by_payment(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """Net money booked per payment (payments minus refunds) on the collected_* accounts."""
    if not settlement_ids:
        return {}
    rows = await session.execute(
        select(LedgerEntry.payment_id, func.sum(LedgerEntry.amount_fen))
        .where(
            LedgerEntry.settlement_id.in_(settlement_ids),
            LedgerEntry.kind.in_(("payment", "refund")),
            LedgerEntry.account.like("collected_%"),
        )
        .group_by(LedgerEntry.payment_id)
    )
    return {payment_id: int(total) for payment_id, total in rows if payment_id is not None}


async def remitted(session: AsyncSession, statement_id: uuid.UUID) -> int:
    """What the ledger holds as remitted by the bureau for a statement."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.statement_id == statement_id,
            LedgerEntry.account == "bureau_remittance",
        )
    )
    return int(total or 0)
