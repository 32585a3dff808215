"""SQL for the ledger: appending entries, reading transactions, the corrections of them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import LedgerCorrection, LedgerEntry


async def add_entries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append ledger rows (executemany); the caller has checked they balance."""
    await session.execute(insert(LedgerEntry), rows)


async def entries_of(session: AsyncSession, transaction_id: uuid.UUID) -> Sequence[LedgerEntry]:
    """The entries of one ledger transaction, in posting order."""
    return (
        await session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.transaction_id == transaction_id)
            .order_by(LedgerEntry.id)
        )
    ).all()


async def correction_of(
    session: AsyncSession, transaction_id: uuid.UUID
) -> LedgerCorrection | None:
    """The correction that negated a transaction, if any."""
    return await session.scalar(
        select(LedgerCorrection).where(LedgerCorrection.corrected_transaction_id == transaction_id)
    )


async def is_correction(session: AsyncSession, transaction_id: uuid.UUID) -> bool:
    """Whether a transaction is itself a correction."""
    found = await session.scalar(
        select(LedgerCorrection.id).where(
            LedgerCorrection.correction_transaction_id == transaction_id
        )
    )
    return found is not None


async def transactions(
    session: AsyncSession,
    institution_id: uuid.UUID | None,
    statement_id: uuid.UUID | None,
    settlement_id: uuid.UUID | None,
    payment_id: uuid.UUID | None,
    limit: int,
    before_entry_id: int | None = None,
) -> Sequence[LedgerEntry]:
    """Entries of the newest transactions matching every given reference (a transaction is as
    new as its last entry; `before_entry_id`: only those whose last entry is older)."""
    conditions = [
        column == value
        for column, value in (
            (LedgerEntry.institution_id, institution_id),
            (LedgerEntry.statement_id, statement_id),
            (LedgerEntry.settlement_id, settlement_id),
            (LedgerEntry.payment_id, payment_id),
        )
        if value is not None
    ]
    ids = (
        await session.scalars(
            select(LedgerEntry.transaction_id)
            .where(*conditions)
            .group_by(LedgerEntry.transaction_id)
            .having(
                func.max(LedgerEntry.id) < before_entry_id
                if before_entry_id is not None
                else true()
            )
            .order_by(func.max(LedgerEntry.id).desc())
            .limit(limit)
        )
    ).all()
    if not ids:
        return []
    return (
        await session.scalars(
            select(LedgerEntry).where(LedgerEntry.transaction_id.in_(ids)).order_by(LedgerEntry.id)
        )
    ).all()


async def corrections_by_transaction(
    session: AsyncSession, transaction_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, LedgerCorrection]:
    """Corrections keyed by the transaction they corrected or by the correcting transaction."""
    if not transaction_ids:
        return {}
    rows = await session.scalars(
        select(LedgerCorrection).where(
            or_(
                LedgerCorrection.corrected_transaction_id.in_(transaction_ids),
                LedgerCorrection.correction_transaction_id.in_(transaction_ids),
            )
        )
    )
    found: dict[uuid.UUID, LedgerCorrection] = {}
    for row in rows:
        found[row.corrected_transaction_id] = row
        found[row.correction_transaction_id] = row
    return found
