"""Recording who read or changed a patient's health data, and showing it to the patient."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import repository as audit_repository
from app.authz.principal import Principal
from app.kit.clock import utcnow
from app.models import AuditEvent
from app.observability import request_id_var


class AuditAction(StrEnum):
    read = "read"
    create = "create"
    update = "update"
    delete = "delete"


async def record(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    resource_type: str,
    resource_id: str | uuid.UUID | None,
    patient_id: uuid.UUID | None,
) -> None:
    """Append an audit event in the request's transaction (it commits with the access)."""
    await record_many(session, principal, action, resource_type, [(resource_id, patient_id)])


async def record_many(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    resource_type: str,
    resources: Sequence[tuple[str | uuid.UUID | None, uuid.UUID | None]],
) -> None:
    """Append one event per (resource id, patient id), e.g. for every row of a list."""
    now = utcnow()
    request_id = request_id_var.get()
    await audit_repository.add_events(
        session,
        [
            {
                "occurred_at": now,
                "actor_account_id": principal.account_id,
                "actor_role": str(principal.role),
                "actor_name": principal.display_name,
                "action": str(action),
                "resource_type": resource_type,
                "resource_id": None if resource_id is None else str(resource_id),
                "patient_id": patient_id,
                "request_id": request_id,
            }
            for resource_id, patient_id in resources
        ],
    )


async def access_log(
    session: AsyncSession, patient_id: uuid.UUID, before_id: int | None, limit: int
) -> Sequence[AuditEvent]:
    """Who accessed this patient's records, newest first."""
    return await audit_repository.list_for_patient(session, patient_id, before_id, limit)
