"""SQL for monthly statements and the ledger sums reconciliation compares them with."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import one_of
from app.models import (
    ChronicDisease,
    Institution,
    LedgerCorrection,
    LedgerEntry,
    Settlement,
    Statement,
    StatementCarry,
    StatementLine,
    StatementRelease,
)

# What the bureau owes for a statement, as SQL (see Statement.payable_fen).
PAYABLE = (
    Statement.fund_fen
    + Statement.account_fen
    - Statement.held_fen
    + Statement.released_fen
    + Statement.carried_in_fen
)


async def lock_institution(session: AsyncSession, institution_id: uuid.UUID) -> Institution | None:
    """The institution, locked until the transaction ends: statement generation (which also
    carries and releases money between its statements) runs one at a time per institution.
    FOR NO KEY UPDATE, so rows that merely refer to the institution are not blocked."""
    return await session.scalar(
        select(Institution).where(Institution.id == institution_id).with_for_update(key_share=True)
    )


async def lock_statement(session: AsyncSession, statement_id: uuid.UUID) -> Statement | None:
    """A statement, locked (and re-read) until the transaction ends: its state changes and
    the money booked against it happen one at a time."""
    return await session.scalar(
        select(Statement)
        .where(Statement.id == statement_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )


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
    session: AsyncSession, statement_id: uuid.UUID, held: dict[uuid.UUID, bool]
) -> None:
    """Freeze which settlements a statement covers, and which of them are held out."""
    if held:
        await session.execute(
            insert(StatementLine),
            [
                {"statement_id": statement_id, "settlement_id": i, "held": is_held}
                for i, is_held in held.items()
            ],
        )


async def lines_of(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, StatementLine]:
    """The statement line of each settlement that a statement already covers."""
    if not settlement_ids:
        return {}
    rows = await session.scalars(
        select(StatementLine).where(one_of(session, StatementLine.settlement_id, settlement_ids))
    )
    return {row.settlement_id: row for row in rows}


async def released_ids(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these settlements a later statement has released."""
    if not settlement_ids:
        return set()
    rows = await session.scalars(
        select(StatementRelease.settlement_id).where(
            one_of(session, StatementRelease.settlement_id, settlement_ids)
        )
    )
    return set(rows)


async def held_unreleased(
    session: AsyncSession, institution_id: uuid.UUID
) -> Sequence[tuple[StatementLine, Settlement]]:
    """Held lines of the institution's statements that no statement has released yet."""
    released = select(StatementRelease.settlement_id)
    rows = await session.execute(
        select(StatementLine, Settlement)
        .join(Settlement, Settlement.id == StatementLine.settlement_id)
        .where(
            Settlement.institution_id == institution_id,
            StatementLine.held.is_(True),
            StatementLine.settlement_id.not_in(released),
        )
        .order_by(Settlement.settled_at, Settlement.id)
    )
    return [(line, settlement) for line, settlement in rows.all()]


async def add_releases(
    session: AsyncSession, statement_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> None:
    """Bring held settlements into a statement's payable."""
    if ids:
        await session.execute(
            insert(StatementRelease),
            [{"statement_id": statement_id, "settlement_id": i} for i in ids],
        )


async def held_lines(
    session: AsyncSession, statement_id: uuid.UUID
) -> Sequence[tuple[StatementLine, Settlement]]:
    """The lines of a statement that were held out of its payable."""
    rows = await session.execute(
        select(StatementLine, Settlement)
        .join(Settlement, Settlement.id == StatementLine.settlement_id)
        .where(StatementLine.statement_id == statement_id, StatementLine.held.is_(True))
        .order_by(Settlement.settled_at, Settlement.id)
    )
    return [(line, settlement) for line, settlement in rows.all()]


async def releases_into(
    session: AsyncSession, statement_id: uuid.UUID
) -> Sequence[tuple[Settlement, Statement]]:
    """Settlements released into a statement, each with the statement that held it."""
    rows = await session.execute(
        select(Settlement, Statement)
        .join(StatementRelease, StatementRelease.settlement_id == Settlement.id)
        .join(StatementLine, StatementLine.settlement_id == Settlement.id)
        .join(Statement, Statement.id == StatementLine.statement_id)
        .where(StatementRelease.statement_id == statement_id)
        .order_by(Settlement.settled_at, Settlement.id)
    )
    return [(settlement, held_in) for settlement, held_in in rows.all()]


async def release_of(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """The statement each of these (held) settlements was released into."""
    if not settlement_ids:
        return {}
    rows = await session.execute(
        select(StatementRelease.settlement_id, StatementRelease.statement_id).where(
            one_of(session, StatementRelease.settlement_id, settlement_ids)
        )
    )
    return dict(rows.all())


async def carriable(
    session: AsyncSession, institution_id: uuid.UUID, before_month: str
) -> Sequence[Statement]:
    """Confirmed statements of earlier months whose payable is negative, locked."""
    return (
        await session.scalars(
            select(Statement)
            .where(
                Statement.institution_id == institution_id,
                Statement.month < before_month,
                Statement.status == "confirmed",
                PAYABLE < 0,
            )
            .order_by(Statement.month)
            .with_for_update(key_share=True)
        )
    ).all()


async def add_carries(session: AsyncSession, rows: list[dict[str, object]]) -> None:
    """Record negative payables carried into a statement."""
    if rows:
        await session.execute(insert(StatementCarry), rows)


async def carries_into(
    session: AsyncSession, statement_id: uuid.UUID
) -> Sequence[tuple[StatementCarry, Statement]]:
    """What was carried into a statement, with the statements it came from."""
    rows = await session.execute(
        select(StatementCarry, Statement)
        .join(Statement, Statement.id == StatementCarry.statement_id)
        .where(StatementCarry.into_statement_id == statement_id)
        .order_by(Statement.month)
    )
    return [(carry, source) for carry, source in rows.all()]


async def carry_of(
    session: AsyncSession, statement_id: uuid.UUID
) -> tuple[StatementCarry, Statement] | None:
    """Where a statement's negative payable was carried, if it was."""
    row = (
        await session.execute(
            select(StatementCarry, Statement)
            .join(Statement, Statement.id == StatementCarry.into_statement_id)
            .where(StatementCarry.statement_id == statement_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


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
        select(ChronicDisease.id, ChronicDisease.code).where(
            one_of(session, ChronicDisease.id, ids)
        )
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
        .where(
            one_of(session, LedgerEntry.settlement_id, settlement_ids), LedgerEntry.kind.in_(kinds)
        )
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
        one_of(session, LedgerEntry.settlement_id, settlement_ids)
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
            one_of(session, LedgerEntry.settlement_id, settlement_ids),
            LedgerEntry.kind.in_(("payment", "refund")),
            LedgerEntry.account.like("collected_%"),
        )
        .group_by(LedgerEntry.payment_id)
    )
    return {payment_id: int(total) for payment_id, total in rows if payment_id is not None}


async def remitted(session: AsyncSession, statement_id: uuid.UUID) -> int:
    """What the ledger holds as remitted by the bureau for a statement (corrections netted)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.statement_id == statement_id,
            LedgerEntry.account == "bureau_remittance",
        )
    )
    return int(total or 0)


async def remittance_transactions(
    session: AsyncSession, statement_id: uuid.UUID
) -> Sequence[tuple[uuid.UUID, int, datetime]]:
    """(transaction id, amount, posted at) of each remittance posting of a statement, the
    corrections' negating postings included, oldest first."""
    rows = await session.execute(
        select(
            LedgerEntry.transaction_id,
            func.sum(LedgerEntry.amount_fen),
            func.min(LedgerEntry.posted_at),
        )
        .where(
            LedgerEntry.statement_id == statement_id,
            LedgerEntry.account == "bureau_remittance",
        )
        .group_by(LedgerEntry.transaction_id)
        .order_by(func.min(LedgerEntry.posted_at), func.min(LedgerEntry.id))
    )
    return [(transaction_id, int(total), at) for transaction_id, total, at in rows.all()]


async def corrections_touching(
    session: AsyncSession,
    statement_id: uuid.UUID,
    settlement_ids: Sequence[uuid.UUID],
) -> Sequence[LedgerCorrection]:
    """Corrections of transactions booked against a statement or its settlements."""
    corrected = select(LedgerEntry.transaction_id).where(
        (LedgerEntry.statement_id == statement_id)
        | one_of(session, LedgerEntry.settlement_id, settlement_ids)
    )
    return (
        await session.scalars(
            select(LedgerCorrection)
            .where(LedgerCorrection.corrected_transaction_id.in_(corrected))
            .order_by(LedgerCorrection.corrected_at, LedgerCorrection.id)
        )
    ).all()
