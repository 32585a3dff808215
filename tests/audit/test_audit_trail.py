"""The audit trail is append-only, enforced by the database."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from app.kit.clock import utcnow
from app.models import AuditEvent


async def _event(db_session) -> AuditEvent:
    event = AuditEvent(
        occurred_at=utcnow(),
        actor_role="doctor",
        actor_name="x",
        action="read",
        resource_type="patient",
    )
    db_session.add(event)
    await db_session.flush()
    return event


async def test_audit_rows_cannot_be_updated(db_session) -> None:
    event = await _event(db_session)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(
                update(AuditEvent).where(AuditEvent.id == event.id).values(actor_name="y")
            )


async def test_audit_rows_cannot_be_deleted(db_session) -> None:
    event = await _event(db_session)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(delete(AuditEvent).where(AuditEvent.id == event.id))
