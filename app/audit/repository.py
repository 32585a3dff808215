"""SQL for audit events (insert and read only: the table is append-only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent


async def add_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append audit events in one executemany round trip."""
    if rows:
        await session.execute(insert(AuditEvent), rows)


async def list_for_patient(
    session: AsyncSession, patient_id: uuid.UUID, before_id: int | None, limit: int
) -> Sequence[AuditEvent]:
    """A patient's audit events, newest first, paged by id."""
    statement = select(AuditEvent).where(AuditEvent.patient_id == patient_id)
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    statement = statement.order_by(AuditEvent.id.desc()).limit(limit)
    return (await session.scalars(statement)).all()
