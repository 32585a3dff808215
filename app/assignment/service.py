"""Online care: assigning a newly enrolled patient's receiving doctor, changing doctor on the
patient's request, a doctor transferring a patient, and reading the stored decisions.

Every path locks the patient row first (one assignment per patient at a time), then takes a place
on the chosen doctor's list (their counter row, locked only when it shows room; capacity by exact
count under that lock); the partial unique index on care relationships makes a second primary
doctor impossible even if a path forgot to lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.assignment import engine
from app.assignment import repository as assignment_repository
from app.assignment.engine import PatientContext
from app.assignment.facts import DoctorAssigned
from app.assignment.scoring import Score
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.care import relationships as relationship_service
from app.care import repository as care_repository
from app.care.relationships import DoctorAtCapacity
from app.config import Settings
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.models import AssignmentDecision, CareRelationship

DECISION_RESOURCE = "assignment_decision"


@dataclass(frozen=True)
class AssignmentOutcome:
    """The receiving doctor's relationship (what a "doctor assigned" notice needs), the
    decision that chose them, and whether this call created it (False on a replay)."""

    relationship: CareRelationship
    decision: AssignmentDecision | None
    created: bool
    ended: CareRelationship | None = None


async def _assigned(session: AsyncSession, outcome: AssignmentOutcome) -> AssignmentOutcome:
    """Record the new doctor (the patient is told in chat)."""
    await events.record(session, DoctorAssigned(outcome.relationship, outcome.ended))
    return outcome


async def _assign_primary(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    context: PatientContext,
    purpose: str,
    now: datetime,
    exclude: Sequence[uuid.UUID] = (),
) -> tuple[CareRelationship, AssignmentDecision]:
    scores, considered = await engine.ranked(
        session, settings, context, purpose, now, exclude=exclude
    )

    async def take(score: Score) -> CareRelationship:
        return await relationship_service.start_primary(
            session, context.patient_id, score.candidate.doctor_id, now
        )

    found = await engine.first_with_room(scores, take)
    if found is None:
        raise Conflict("no_doctor_available")
    chosen, relationship = found
    decision = await engine.record_decision(
        session, principal, settings, context, purpose, chosen, scores, considered, now
    )
    await audit_service.record(
        session, principal, AuditAction.create, DECISION_RESOURCE, decision.id, context.patient_id
    )
    return relationship, decision


async def start_online_care(
    session: AsyncSession, principal: Principal, settings: Settings, institution_id: uuid.UUID
) -> AssignmentOutcome:
    """Assign an entitled patient their receiving doctor; a patient who has one gets it back."""
    assert principal.patient_id is not None
    patient_id = principal.patient_id
    await assignment_repository.lock_patient(session, patient_id)
    now = utcnow()
    # One read serves both the "already has a doctor" answer and the care history.
    relationships = await care_repository.relationships_of_patient(session, patient_id)
    current = next((r for r in relationships if r.kind == "primary" and r.ended_at is None), None)
    if current is not None:
        decision = await assignment_repository.latest_decision(
            session, patient_id, current.doctor_id
        )
        return AssignmentOutcome(current, decision, created=False)
    context = await engine.patient_context(session, patient_id, institution_id, now, relationships)
    relationship, decision = await _assign_primary(
        session, principal, settings, context, "enrollment", now
    )
    return await _assigned(session, AssignmentOutcome(relationship, decision, created=True))


async def change_doctor(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    institution_id: uuid.UUID | None,
    reason: str,
    leaving: uuid.UUID,
) -> AssignmentOutcome:
    """The patient asks for a different receiving doctor: anyone but the current one. The
    request names the care relationship it leaves; when that one ended meanwhile (the same
    request sent twice, a transfer), this one is 409 instead of a second change."""
    assert principal.patient_id is not None
    patient_id = principal.patient_id
    await assignment_repository.lock_patient(session, patient_id)
    now = utcnow()
    current = await care_repository.active_primary(session, patient_id, lock=True)
    if current is None:
        raise Conflict("no_current_doctor")
    if current.id != leaving:
        raise Conflict("doctor_changed_meanwhile")
    context = await engine.patient_context(
        session, patient_id, institution_id or current.institution_id, now
    )
    await relationship_service.end(session, current, "changed_doctor", now)
    relationship, decision = await _assign_primary(
        session, principal, settings, context, "change_doctor", now, exclude=[current.doctor_id]
    )
    decision.breakdown = {**decision.breakdown, "note": reason}
    return await _assigned(
        session, AssignmentOutcome(relationship, decision, created=True, ended=current)
    )


async def transfer_patient(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    patient_id: uuid.UUID,
    to_doctor_id: uuid.UUID | None,
    reason: str,
) -> AssignmentOutcome:
    """The receiving doctor hands the patient to a colleague (named, or the engine's pick)."""
    assert principal.doctor_id is not None
    await relationship_service.require_in_care(session, principal, patient_id)
    await assignment_repository.lock_patient(session, patient_id)
    now = utcnow()
    current = await care_repository.active_primary(session, patient_id, lock=True)
    if current is None or current.doctor_id != principal.doctor_id:
        raise Conflict("not_primary_doctor")
    context = await engine.patient_context(session, patient_id, current.institution_id, now)
    await relationship_service.end(session, current, "transferred", now)
    if to_doctor_id is None:
        relationship, decision = await _assign_primary(
            session, principal, settings, context, "transfer", now, exclude=[current.doctor_id]
        )
    else:
        scores, considered = await engine.ranked(
            session, settings, context, "transfer", now, only=[to_doctor_id]
        )
        if not scores or to_doctor_id == current.doctor_id:
            raise Conflict("doctor_not_suitable")
        try:
            relationship = await relationship_service.start_primary(
                session, patient_id, to_doctor_id, now
            )
        except DoctorAtCapacity as exc:
            raise Conflict("doctor_not_suitable") from exc
        decision = await engine.record_decision(
            session, principal, settings, context, "transfer", scores[0], scores, considered, now
        )
    decision.breakdown = {**decision.breakdown, "note": reason}
    return await _assigned(
        session, AssignmentOutcome(relationship, decision, created=True, ended=current)
    )


async def get_decision(
    session: AsyncSession, principal: Principal, decision_id: uuid.UUID
) -> AssignmentDecision:
    """One decision the caller may see, audited."""
    decision = await assignment_repository.get_decision(session, principal, decision_id, utcnow())
    if decision is None:
        raise NotFound()
    await audit_service.record(
        session, principal, AuditAction.read, DECISION_RESOURCE, decision.id, decision.patient_id
    )
    return decision


async def list_decisions(
    session: AsyncSession,
    principal: Principal,
    patient_id: uuid.UUID | None,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[AssignmentDecision]:
    """Decisions the caller may see, newest first (after the `after` key), audited."""
    rows = await assignment_repository.list_decisions(
        session, principal, patient_id, utcnow(), limit, after
    )
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        DECISION_RESOURCE,
        [(d.id, d.patient_id) for d in rows],
    )
    return rows
