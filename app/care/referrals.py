"""Referrals up to a higher-level hospital or down to community care.

requested -> accepted | rejected | cancelled; accepted -> completed. Accepting gives the
receiving doctor access to the patient for the referral's duration; completing a down-referral
makes them the patient's receiving doctor. Referrals by the patient's family doctor carry
priority in the receiving institution's list.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.care import referral_repository
from app.care import relationships as relationship_service
from app.care import repository as care_repository
from app.care.schemas import ReferralCreate
from app.doctor import repository as doctor_repository
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.kit.sql import add_unique
from app.models import Institution, Referral

RESOURCE = "referral"

# status -> {action: next status}; rejected, completed and cancelled are final.
TRANSITIONS: dict[str, dict[str, str]] = {
    "requested": {"accept": "accepted", "reject": "rejected", "cancel": "cancelled"},
    "accepted": {"complete": "completed"},
}
# Higher is a higher level of care.
LEVEL_RANK = {"secondary": 1, "tertiary": 2}


def _advance(referral: Referral, action: str) -> str:
    target = TRANSITIONS.get(referral.status, {}).get(action)
    if target is None:
        raise Conflict("referral_transition_illegal", current=referral.status, action=action)
    return target


async def create_referral(
    session: AsyncSession, principal: Principal, body: ReferralCreate, idempotency_key: str | None
) -> Referral:
    """Refer a patient in the doctor's care up or down; replayed keys return the first one."""
    assert principal.doctor_id is not None
    if idempotency_key is not None:
        existing = await referral_repository.by_key(session, principal.doctor_id, idempotency_key)
        if existing is not None:
            return existing
    await relationship_service.require_in_care(session, principal, body.patient_id)
    doctor = await doctor_repository.get_doctor(session, principal.doctor_id)
    assert doctor is not None
    source = await by_id(session, Institution, doctor.institution_id)
    target = await by_id(session, Institution, body.to_institution_id)
    if target is None or source is None:
        raise NotFound()
    step = LEVEL_RANK[target.level] - LEVEL_RANK[source.level]
    if (body.direction == "up" and step <= 0) or (body.direction == "down" and step >= 0):
        raise Conflict("referral_direction_mismatch")
    family = await care_repository.is_family_doctor_of(session, doctor.id, body.patient_id)
    referral = Referral(
        patient_id=body.patient_id,
        direction=body.direction,
        priority="priority" if family else "normal",
        status="requested",
        from_doctor_id=doctor.id,
        from_institution_id=source.id,
        to_institution_id=target.id,
        reason=body.reason,
        idempotency_key=idempotency_key,
        requested_at=utcnow(),
    )
    if not await add_unique(session, referral):
        raise Conflict("referral_open")
    await _audit(session, principal, AuditAction.create, referral)
    return referral


async def get_referral(
    session: AsyncSession, principal: Principal, referral_id: uuid.UUID
) -> Referral:
    """One referral the caller may see, audited."""
    referral = await referral_repository.get_visible(session, principal, referral_id)
    if referral is None:
        raise NotFound()
    await _audit(session, principal, AuditAction.read, referral)
    return referral


async def list_referrals(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    limit: int,
    after: tuple[int, datetime, uuid.UUID] | None = None,
) -> Sequence[Referral]:
    """Referrals the caller may see, priority first; audited."""
    rows = await referral_repository.list_visible(session, principal, status, limit, after)
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(r.id, r.patient_id) for r in rows]
    )
    return rows


async def act_on_referral(
    session: AsyncSession,
    principal: Principal,
    referral_id: uuid.UUID,
    action: str,
    reason: str | None,
) -> Referral:
    """Accept, reject or complete (a doctor of the receiving institution) or cancel (the
    referring doctor) a referral; illegal transitions are 409 and change nothing."""
    assert principal.doctor_id is not None
    referral = await referral_repository.get_visible(session, principal, referral_id, lock=True)
    if referral is None:
        raise NotFound()
    doctor = await doctor_repository.get_doctor(session, principal.doctor_id)
    assert doctor is not None
    receiving = doctor.institution_id == referral.to_institution_id
    allowed = referral.from_doctor_id == doctor.id if action == "cancel" else receiving
    if action == "complete":
        allowed = referral.to_doctor_id == doctor.id
    if not allowed:
        raise NotFound()
    target = _advance(referral, action)
    now = utcnow()
    referral.status = target
    if action in ("accept", "reject", "cancel"):
        referral.decided_at = now
        referral.decision_reason = reason
    if action == "accept":
        referral.to_doctor_id = doctor.id
        access = await relationship_service.grant_access(
            session, referral.patient_id, doctor.id, "referral", now
        )
        referral.care_relationship_id = access.id if access is not None else None
    if action == "complete":
        referral.completed_at = now
        await _complete(session, referral, now)
    await session.flush()
    await _audit(session, principal, AuditAction.update, referral)
    return referral


async def _complete(session: AsyncSession, referral: Referral, now: datetime) -> None:
    assert referral.to_doctor_id is not None
    if referral.care_relationship_id is not None:
        access = await care_repository.get_relationship(
            session, referral.care_relationship_id, lock=True
        )
        if access is not None and access.ended_at is None:
            await relationship_service.end(session, access, "referral_completed", now)
    if referral.direction == "down":
        current = await care_repository.active_primary(session, referral.patient_id, lock=True)
        if current is not None and current.doctor_id != referral.to_doctor_id:
            await relationship_service.end(session, current, "referred_down", now)
        if current is None or current.doctor_id != referral.to_doctor_id:
            await relationship_service.start_primary(
                session, referral.patient_id, referral.to_doctor_id, now
            )


async def _audit(
    session: AsyncSession, principal: Principal, action: AuditAction, referral: Referral
) -> None:
    await audit_service.record(
        session, principal, action, RESOURCE, referral.id, referral.patient_id
    )
