"""The care-relationship lifecycle: the single source of which doctor may see which patient.

Capacity and the one-primary rule are enforced by the database: starting a primary relationship
moves the doctor's active-patient counter only while it shows room (the UPDATE locks the counter
row, and a full doctor's row is left unlocked), then counts exactly under that lock; a partial
unique index allows one active primary relationship per patient.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.care import repository as care_repository
from app.doctor import repository as doctor_repository
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.kit.sql import add_unique
from app.models import CareRelationship
from app.patient import repository as patient_repository

RESOURCE = "care_relationship"


class DoctorAtCapacity(Conflict):
    """The doctor's list is full (the engine then tries the next candidate)."""

    code = "doctor_at_capacity"


async def recount_load(session: AsyncSession, doctor_id: uuid.UUID) -> tuple[int, int]:
    """Reset the doctor's load counters from exact counts (caller holds the doctor lock)."""
    # Counted under the counters' own lock: a place taken meanwhile (start_primary holds that
    # lock, not the doctor's) is committed before the count, so it is not lost.
    await doctor_repository.lock_load(session, doctor_id)
    active = await care_repository.count_active_primary(session, doctor_id)
    waiting = await care_repository.count_waiting(session, doctor_id)
    await doctor_repository.save_load(session, doctor_id, active, waiting)
    return active, waiting


async def _take_place(session: AsyncSession, doctor_id: uuid.UUID) -> int:
    counted = await doctor_repository.take_place(session, doctor_id)
    if counted is not None:
        return counted
    # No room by the counter, or no counter row yet (a doctor nobody was assigned to).
    if await doctor_repository.get_doctor(session, doctor_id) is None:
        raise NotFound("doctor_not_found")
    if await doctor_repository.add_load(session, doctor_id):
        counted = await doctor_repository.take_place(session, doctor_id)
    if counted is None:
        raise DoctorAtCapacity()
    return counted


async def start_primary(
    session: AsyncSession, patient_id: uuid.UUID, doctor_id: uuid.UUID, now: datetime
) -> CareRelationship:
    """Make the doctor the patient's receiving doctor; DoctorAtCapacity if their list is full,
    409 already_has_doctor if the patient has one.

    A refusal by the counter locks nothing, so callers may try the next doctor without a
    savepoint and a request never holds a full doctor's lock.
    """
    counted = await _take_place(session, doctor_id)
    # Every start with this doctor holds the counter row's lock until it commits, and so does
    # every end of a primary relationship (the decrement), so this count is exact.
    start = await care_repository.primary_start(session, doctor_id, patient_id)
    assert start is not None  # the counter row's foreign key
    room = start.active < start.capacity
    exact = start.active + 1 if room else start.active
    if exact != counted:
        # The counter had drifted (e.g. a recount from a snapshot older than our lock):
        # put it right. A refusal here keeps this doctor's lock, which only drift can cause.
        await doctor_repository.change_active_patients(session, doctor_id, exact - counted)
    if not room:
        raise DoctorAtCapacity()
    if start.access_id is not None:
        # Team, consult or referral access to this doctor becomes the primary relationship.
        access = await care_repository.get_relationship(session, start.access_id)
        assert access is not None
        access.ended_at = now
        access.ended_reason = "became_primary"
        await session.flush()
    relationship = CareRelationship(
        patient_id=patient_id,
        doctor_id=doctor_id,
        institution_id=start.institution_id,
        kind="primary",
        started_at=now,
    )
    # No savepoint: the caller holds the patient's lock and found no primary doctor, so a
    # refusal means another path raced it, and this whole request fails anyway.
    session.add(relationship)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("already_has_doctor") from None
    return relationship


async def grant_access(
    session: AsyncSession,
    patient_id: uuid.UUID,
    doctor_id: uuid.UUID,
    kind: str,
    now: datetime,
    team_id: uuid.UUID | None = None,
) -> CareRelationship | None:
    """Let a doctor see a patient (team, consult or referral); None if they already may."""
    if await care_repository.active_with(session, patient_id, doctor_id) is not None:
        return None
    doctor = await doctor_repository.get_doctor(session, doctor_id)
    if doctor is None:
        raise NotFound("doctor_not_found")
    relationship = CareRelationship(
        patient_id=patient_id,
        doctor_id=doctor_id,
        institution_id=doctor.institution_id,
        kind=kind,
        started_at=now,
        team_id=team_id,
    )
    return relationship if await add_unique(session, relationship) else None


async def end(
    session: AsyncSession, relationship: CareRelationship, reason: str, now: datetime
) -> None:
    """End a relationship; a doctor still on a team of the patient keeps team access."""
    if relationship.ended_at is not None:
        raise Conflict("relationship_already_ended")
    relationship.ended_at = now
    relationship.ended_reason = reason
    await session.flush()
    if relationship.kind == "primary":
        # A decrement, not a recount under the doctor's lock: a transaction that moves a
        # patient would otherwise hold two doctor locks, in an order another move can invert.
        # Capacity is still safe: it is checked by an exact count under the new doctor's lock.
        await doctor_repository.change_active_patients(session, relationship.doctor_id, -1)
    if relationship.kind != "team":
        teams = await care_repository.teams_sharing(
            session, relationship.patient_id, relationship.doctor_id
        )
        if teams:
            await grant_access(
                session, relationship.patient_id, relationship.doctor_id, "team", now, teams[0]
            )


async def get_existing(session: AsyncSession, relationship_id: uuid.UUID) -> CareRelationship:
    """A relationship by id; 404 if there is none."""
    relationship = await care_repository.get_relationship(session, relationship_id)
    if relationship is None:
        raise NotFound()
    return relationship


async def end_by_id(
    session: AsyncSession, principal: Principal, relationship_id: uuid.UUID, reason: str
) -> CareRelationship:
    """End a relationship (admin), audited."""
    relationship = await care_repository.get_relationship(session, relationship_id, lock=True)
    if relationship is None:
        raise NotFound()
    await end(session, relationship, reason, utcnow())
    await audit_service.record(
        session, principal, AuditAction.update, RESOURCE, relationship.id, relationship.patient_id
    )
    return relationship


async def list_relationships(
    session: AsyncSession, principal: Principal, after_id: uuid.UUID | None, limit: int
) -> Sequence[CareRelationship]:
    """The caller's active care relationships (a patient's doctors, a doctor's patients)."""
    rows = await care_repository.list_visible(session, principal, utcnow(), after_id, limit)
    await audit_service.record_many(
        session, principal, AuditAction.read, RESOURCE, [(r.id, r.patient_id) for r in rows]
    )
    return rows


async def require_in_care(
    session: AsyncSession, principal: Principal, patient_id: uuid.UUID
) -> None:
    """404 unless the calling doctor may see the patient (an active care relationship)."""
    if await patient_repository.get_visible(session, principal, patient_id) is None:
        raise NotFound()
