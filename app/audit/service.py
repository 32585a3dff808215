"""Recording who read or changed a patient's health data, and showing it to the patient."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import repository as audit_repository
from app.kit.clock import utcnow
from app.models import AuditEvent
from app.request_context import request_id_var


class AuditAction(StrEnum):
    read = "read"
    create = "create"
    update = "update"
    delete = "delete"
    # Acts on staff accounts (app/staff).
    suspend = "suspend"
    reinstate = "reinstate"
    move = "move"


class Actor(Protocol):
    """Who acted: a signed-in principal, or a `SystemActor` (no account)."""

    @property
    def account_id(self) -> uuid.UUID | None: ...

    @property
    def role(self) -> str: ...

    @property
    def display_name(self) -> str: ...


@dataclass(frozen=True)
class SystemActor:
    """An actor without a sign-in account: an operator at the command line, or an outside
    system whose decision the service records (the insurance platform). The trail names it by
    `role` and `display_name`; `account_id` is None."""

    role: str
    display_name: str
    account_id: uuid.UUID | None = None


async def record(
    session: AsyncSession,
    principal: Actor,
    action: AuditAction,
    resource_type: str,
    resource_id: str | uuid.UUID | None,
    patient_id: uuid.UUID | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append an audit event in the request's transaction (it commits with the access);
    `detail` says what an administrative act changed."""
    await record_many(
        session, principal, action, resource_type, [(resource_id, patient_id)], detail
    )


async def record_many(
    session: AsyncSession,
    principal: Actor,
    action: AuditAction,
    resource_type: str,
    resources: Sequence[tuple[str | uuid.UUID | None, uuid.UUID | None]],
    detail: dict[str, Any] | None = None,
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
                "detail": detail,
            }
            for resource_id, patient_id in resources
        ],
    )


async def access_log(
    session: AsyncSession, patient_id: uuid.UUID, before_id: int | None, limit: int
) -> Sequence[AuditEvent]:
    """Who accessed this patient's records, newest first."""
    return await audit_repository.list_for_patient(session, patient_id, before_id, limit)
