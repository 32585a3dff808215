"""The audit trail is append-only, enforced by the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.kit.clock import utcnow
from app.models import AuditEvent, Role
from app.request_context import request_id_var


@contextmanager
def bind_request_id(request_id: str) -> Iterator[None]:
    token = request_id_var.set(request_id)
    try:
        yield
    finally:
        request_id_var.reset(token)


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


async def test_one_event_and_several_are_stored_alike(db_session) -> None:
    # One event (most requests) goes in as a single execute, several as one executemany.
    actor = Principal(uuid.uuid4(), uuid.uuid4(), Role.doctor, "Dr. Wang")
    patients = [uuid.uuid4() for _ in range(4)]
    with bind_request_id("req-audit-1"):
        await audit_service.record(
            db_session, actor, AuditAction.read, "patient", patients[0], patients[0]
        )
    with bind_request_id("req-audit-3"):
        await audit_service.record_many(
            db_session,
            actor,
            AuditAction.update,
            "care_plan",
            [(f"plan-{n}", patient) for n, patient in enumerate(patients[1:])],
            {"field": "target"},
        )
    rows = (
        await db_session.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor_account_id == actor.account_id)
            .order_by(AuditEvent.id)
        )
    ).all()
    assert [
        (r.action, r.resource_type, r.resource_id, r.patient_id, r.request_id, r.detail)
        for r in rows
    ] == [
        ("read", "patient", str(patients[0]), patients[0], "req-audit-1", None),
        *[
            ("update", "care_plan", f"plan-{n}", patient, "req-audit-3", {"field": "target"})
            for n, patient in enumerate(patients[1:])
        ],
    ]
    assert {(r.actor_role, r.actor_name) for r in rows} == {("doctor", "Dr. Wang")}
