"""SQL for audit events (insert and read only: the table is append-only)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditEvent

# The table, not the entity: a Core INSERT skips the ORM's bulk-insert machinery, which was
# ~4 % of the CPU of a one-reading upload (each of which writes an event). Built once: a
# statement made per call has its cache key computed again on every request.
_INSERT_EVENTS = insert(cast(Table, AuditEvent.__table__))


async def add_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Append audit events in one round trip (executemany for several; one event, most
    requests' case, as a single execute, which costs less)."""
    if rows:
        await session.execute(_INSERT_EVENTS, rows[0] if len(rows) == 1 else rows)


async def list_for_patient(
    session: AsyncSession, patient_id: uuid.UUID, before_id: int | None, limit: int
) -> Sequence[AuditEvent]:
    """A patient's audit events, newest first, paged by id."""
    statement = select(AuditEvent).where(AuditEvent.patient_id == patient_id)
    if before_id is not None:
        statement = statement.where(AuditEvent.id < before_id)
    statement = statement.order_by(AuditEvent.id.desc()).limit(limit)
    return (await session.scalars(statement)).all()
