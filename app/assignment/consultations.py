"""The consultation queue: a patient asks to be seen, the engine picks a doctor who is online
(or, when nobody is, waits for the patient's own doctors), the patient sees their position and
an honest wait, and a doctor going offline hands their waiting patients on.

waiting -> in_consultation | cancelled; in_consultation -> completed (TRANSITIONS).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.alert.urgency import urgency_by_patient
from app.assignment import engine
from app.assignment import repository as assignment_repository
from app.assignment.engine import PatientContext
from app.assignment.queue import ServiceTime, estimated_wait_seconds, queue_key, service_time
from app.assignment.scoring import Score
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.care import relationships as relationship_service
from app.care import repository as care_repository
from app.care.relationships import DoctorAtCapacity
from app.config import Settings
from app.doctor import repository as doctor_repository
from app.doctor import service as doctor_service
from app.errors import Conflict, Forbidden, NotFound
from app.kit.clock import utcnow
from app.models import ConsultationRequest, Role
from app.realtime.hub import RealtimeHub
from app.realtime.publish import publish_after_commit

RESOURCE = "consultation_request"
QUEUE_EVENT = "consultation.queue"
TRANSITIONS: dict[str, dict[str, str]] = {
    "waiting": {"start": "in_consultation", "cancel": "cancelled"},
    "in_consultation": {"complete": "completed"},
}
# Consultation lengths older than this do not inform the wait estimate.
MEASURE_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class QueueStanding:
    """Where a request stands: position (1 = next), how many are ahead, the estimate."""

    request: ConsultationRequest
    position: int | None
    ahead: int
    estimated_wait_seconds: int | None
    basis: str
    samples: int
    doctor_presence: str
    doctor_back_at: datetime | None


def _advance(request: ConsultationRequest, action: str) -> str:
    target = TRANSITIONS.get(request.status, {}).get(action)
    if target is None:
        raise Conflict("consultation_transition_illegal", current=request.status, action=action)
    return target


async def _place(
    session: AsyncSession,
    settings: Settings,
    context: PatientContext,
    purpose: str,
    now: datetime,
    exclude: Sequence[uuid.UUID] = (),
) -> tuple[Score, list[Score], int, str | None] | None:
    """Pick the doctor for a waiting patient: the best online one with room in their queue,
    else (nobody online) the patient's own doctors. None when nobody fits at all."""
    scores, considered = await engine.ranked(
        session, settings, context, purpose, now, exclude=exclude, present_only=True
    )
    note = None
    if not scores:
        own = [d for d in context.request.history if d not in exclude]
        scores, considered = await engine.ranked(
            session, settings, context, purpose, now, exclude=exclude, only=own
        )
        note = "no doctor online: waiting for the patient's own doctor"
    found = await engine.first_with_room(scores, _queue_room(session, settings))
    return None if found is None else (found[0], scores, considered, note)


def _queue_room(session: AsyncSession, settings: Settings) -> Callable[[Score], Awaitable[None]]:
    """A `take` for first_with_room: lock the doctor, refuse if their queue is full. Each try
    runs in a savepoint, so a full doctor's lock is released before the next is tried."""

    async def lock_and_count(doctor_id: uuid.UUID) -> None:
        await doctor_repository.lock_doctor(session, doctor_id)
        waiting = await care_repository.count_waiting(session, doctor_id)
        if waiting >= settings.consultation_queue_limit:
            raise DoctorAtCapacity()

    async def take(score: Score) -> None:
        doctor_id = score.candidate.doctor_id
        await engine.retry_on_deadlock(session, lambda: lock_and_count(doctor_id))

    return take


async def request_consultation(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    hub: RealtimeHub,
    reason: str | None,
    idempotency_key: str | None,
) -> QueueStanding:
    """Join the queue (entitled patients only); a replayed key returns the first request."""
    assert principal.patient_id is not None
    patient_id = principal.patient_id
    if idempotency_key is not None:
        existing = await assignment_repository.request_by_key(session, patient_id, idempotency_key)
        if existing is not None:
            return await standing(session, settings, existing)
    await assignment_repository.lock_patient(session, patient_id)
    if await assignment_repository.open_request(session, patient_id) is not None:
        raise Conflict("consultation_open")
    now = utcnow()
    primary = await care_repository.active_primary(session, patient_id)
    context = await engine.patient_context(
        session, patient_id, primary.institution_id if primary else None, now
    )

    async def attempt() -> ConsultationRequest:
        placed = await _place(session, settings, context, "consultation", now)
        if placed is None:
            raise Conflict("no_doctor_available")
        chosen, scores, considered, note = placed
        decision = await engine.record_decision(
            session,
            principal,
            settings,
            context,
            "consultation",
            chosen,
            scores,
            considered,
            now,
            note,
        )
        request = ConsultationRequest(
            patient_id=patient_id,
            doctor_id=chosen.candidate.doctor_id,
            status="waiting",
            urgency_level=context.urgency.level,
            reason=reason,
            idempotency_key=idempotency_key,
            decision_id=decision.id,
            requested_at=now,
        )
        session.add(request)
        await session.flush()
        access = await relationship_service.grant_access(
            session, patient_id, request.doctor_id, "consult", now
        )
        request.care_relationship_id = access.id if access is not None else None
        await relationship_service.recount_load(session, request.doctor_id)
        return request

    request = await engine.retry_on_deadlock(session, attempt)
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, request.id, patient_id
    )
    await publish_queue(session, settings, hub, request.doctor_id)
    return await standing(session, settings, request)


async def _measured(
    session: AsyncSession, settings: Settings, doctor_id: uuid.UUID, now: datetime
) -> ServiceTime:
    durations = await assignment_repository.recent_durations(
        session, doctor_id, now - MEASURE_WINDOW
    )
    return service_time(durations, settings.consultation_default_minutes)


async def _ordered_queue(session: AsyncSession, doctor_id: uuid.UUID) -> list[ConsultationRequest]:
    """The doctor's waiting requests in queue order, urgency refreshed from the readings."""
    waiting = list(await assignment_repository.waiting_for(session, doctor_id))
    urgency = await urgency_by_patient(session, [r.patient_id for r in waiting])
    for request in waiting:
        # Urgency only rises while waiting: a patient is never pushed back by a calmer reading.
        level = urgency[request.patient_id].level
        if level > request.urgency_level:
            request.urgency_level = level
    await session.flush()
    return sorted(waiting, key=lambda r: queue_key(r.urgency_level, r.requested_at, r.id))


async def standings_for_doctor(
    session: AsyncSession, settings: Settings, doctor_id: uuid.UUID
) -> list[QueueStanding]:
    """Every waiting request of the doctor with its position and estimate."""
    now = utcnow()
    queue = await _ordered_queue(session, doctor_id)
    service = await _measured(session, settings, doctor_id, now)
    presence_row = (await doctor_repository.presence_of(session, [doctor_id])).get(doctor_id)
    presence = doctor_service.effective_status(presence_row, now)
    started = await assignment_repository.ongoing_started_at(session, doctor_id)
    elapsed = (now - started) / timedelta(minutes=1) if started is not None else None
    back_at = None
    if presence == "offline":
        hours = (await doctor_repository.working_hours_of(session, [doctor_id]))[doctor_id]
        back_at = doctor_service.next_shift_start(hours, now)
    return [
        QueueStanding(
            request=r,
            position=index + 1,
            ahead=index,
            estimated_wait_seconds=estimated_wait_seconds(index, service, presence, elapsed),
            basis=service.basis,
            samples=service.samples,
            doctor_presence=presence,
            doctor_back_at=back_at,
        )
        for index, r in enumerate(queue)
    ]


async def standing(
    session: AsyncSession, settings: Settings, request: ConsultationRequest
) -> QueueStanding:
    """Where one request stands now (no position once it has left the queue)."""
    if request.status == "waiting":
        for entry in await standings_for_doctor(session, settings, request.doctor_id):
            if entry.request.id == request.id:
                return entry
    presence_row = (await doctor_repository.presence_of(session, [request.doctor_id])).get(
        request.doctor_id
    )
    presence = doctor_service.effective_status(presence_row, utcnow())
    return QueueStanding(request, None, 0, None, "assumed", 0, presence, None)


async def publish_queue(
    session: AsyncSession, settings: Settings, hub: RealtimeHub, doctor_id: uuid.UUID
) -> None:
    """After commit, tell every patient waiting for the doctor their position and estimate."""
    standings = await standings_for_doctor(session, settings, doctor_id)
    accounts = await assignment_repository.account_of_patients(
        session, [s.request.patient_id for s in standings]
    )
    for entry in standings:
        publish_after_commit(session, hub, [accounts[entry.request.patient_id]], queue_event(entry))


def queue_event(entry: QueueStanding) -> dict[str, object]:
    """The realtime event that tells a patient where they stand."""
    return {
        "type": QUEUE_EVENT,
        "request_id": entry.request.id,
        "status": entry.request.status,
        "doctor_id": entry.request.doctor_id,
        "position": entry.position,
        "ahead": entry.ahead,
        "estimated_wait_seconds": entry.estimated_wait_seconds,
        "basis": entry.basis,
        "doctor_presence": entry.doctor_presence,
        "doctor_back_at": entry.doctor_back_at,
    }


async def get_standing(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    hub: RealtimeHub,
    request_id: uuid.UUID,
) -> QueueStanding:
    """A request's standing for its patient or its doctor; if the doctor's app went silent,
    the waiting patients are handed on first, so the answer is never a dead queue."""
    request = await assignment_repository.get_request(session, principal, request_id)
    if request is None:
        raise NotFound()
    if request.status == "waiting":
        for doctor_id in await doctor_service.lapse_silent_doctors(session):
            await hand_over(session, settings, hub, doctor_id)
        await session.refresh(request)
    await audit_service.record(
        session, principal, AuditAction.read, RESOURCE, request.id, request.patient_id
    )
    return await standing(session, settings, request)


async def doctor_queue(
    session: AsyncSession, principal: Principal, settings: Settings
) -> list[QueueStanding]:
    """The calling doctor's queue in order, audited."""
    assert principal.doctor_id is not None
    entries = await standings_for_doctor(session, settings, principal.doctor_id)
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        RESOURCE,
        [(e.request.id, e.request.patient_id) for e in entries],
    )
    return entries


async def act(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    hub: RealtimeHub,
    request_id: uuid.UUID,
    action: str,
) -> QueueStanding:
    """start / complete (the assigned doctor) or cancel (the patient) a request."""
    request = await assignment_repository.get_request(session, principal, request_id, lock=True)
    if request is None:
        raise NotFound()
    if (principal.role == Role.patient) != (action == "cancel"):
        raise Forbidden()
    request.status = _advance(request, action)
    now = utcnow()
    if action == "start":
        request.started_at = now
    else:
        request.ended_at = now
        await _end_consult_access(session, request, now)
    await session.flush()
    await relationship_service.recount_load(session, request.doctor_id)
    await audit_service.record(
        session, principal, AuditAction.update, RESOURCE, request.id, request.patient_id
    )
    await publish_queue(session, settings, hub, request.doctor_id)
    return await standing(session, settings, request)


async def _end_consult_access(
    session: AsyncSession, request: ConsultationRequest, now: datetime
) -> None:
    if request.care_relationship_id is None:
        return
    access = await care_repository.get_relationship(
        session, request.care_relationship_id, lock=True
    )
    if access is not None and access.ended_at is None:
        await relationship_service.end(session, access, "consultation_ended", now)
    request.care_relationship_id = None


async def hand_over(
    session: AsyncSession, settings: Settings, hub: RealtimeHub, doctor_id: uuid.UUID
) -> int:
    """Move the offline doctor's waiting patients (urgent first) to doctors who are online,
    keeping their waiting time; how many moved. Who cannot be placed keeps waiting."""
    now = utcnow()
    waiting = sorted(
        await assignment_repository.waiting_for(session, doctor_id, lock=True),
        key=lambda r: queue_key(r.urgency_level, r.requested_at, r.id),
    )
    moved: set[uuid.UUID] = set()
    for request in waiting:
        context = await engine.patient_context(session, request.patient_id, None, now)
        scores, considered = await engine.ranked(
            session, settings, context, "handoff", now, exclude=[doctor_id], present_only=True
        )
        found = await engine.first_with_room(scores, _queue_room(session, settings))
        if found is None:
            continue
        target = found[0]
        decision = await engine.record_decision(
            session,
            None,
            settings,
            context,
            "handoff",
            target,
            scores,
            considered,
            now,
            f"handed over from {doctor_id}: doctor offline",
        )
        await _end_consult_access(session, request, now)
        request.doctor_id = target.candidate.doctor_id
        request.decision_id = decision.id
        request.handoffs += 1
        await session.flush()
        access = await relationship_service.grant_access(
            session, request.patient_id, request.doctor_id, "consult", now
        )
        request.care_relationship_id = access.id if access is not None else None
        await relationship_service.recount_load(session, request.doctor_id)
        moved.add(request.doctor_id)
    if moved:
        await relationship_service.recount_load(session, doctor_id)
        for receiving in moved:
            await publish_queue(session, settings, hub, receiving)
    await publish_queue(session, settings, hub, doctor_id)
    return sum(1 for r in waiting if r.doctor_id != doctor_id)
