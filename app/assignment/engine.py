"""The assignment engine: who the patient is (diseases, history, urgency), which doctors could
take them, the ranking, and the stored decision with its full score breakdown."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.alert.urgency import Urgency, urgency_by_patient
from app.assignment import repository as assignment_repository
from app.assignment.scoring import (
    AssignmentRequest,
    Candidate,
    Disease,
    Score,
    Weights,
    course_maturity,
    rank,
)
from app.authz.principal import Principal
from app.care import repository as care_repository
from app.care.relationships import DoctorAtCapacity
from app.config import Settings
from app.enrollment import entitlements as entitlement_service
from app.errors import NotFound
from app.kit.clock import city_date
from app.kit.repository import by_id
from app.models import AssignmentDecision, CareRelationship, Institution

T = TypeVar("T")

RUNNERS_UP = 3
# How many candidates one request may try when the best ones fill up under it.
MAX_ATTEMPTS = 10
_DEADLOCK = "40P01"
# Only this many best candidates get a full breakdown: the tries plus the runners-up shown.
RANKED = MAX_ATTEMPTS + RUNNERS_UP + 1


@dataclass(frozen=True)
class PatientContext:
    """Everything about the patient the engine weighs."""

    patient_id: uuid.UUID
    request: AssignmentRequest
    urgency: Urgency
    # The earliest year of diagnosis recorded at enrollment (the course's start), if any.
    diagnosed_year: int | None


async def patient_context(
    session: AsyncSession,
    patient_id: uuid.UUID,
    institution_id: uuid.UUID | None,
    now: datetime,
    relationships: Sequence[CareRelationship] | None = None,
) -> PatientContext:
    """The patient's online-care diseases (409 if not entitled), care history and urgency;
    `relationships` are all of the patient's, newest first, if the caller has read them. An
    institution the patient names must exist (404): the decision records it."""
    if institution_id is not None and await by_id(session, Institution, institution_id) is None:
        raise NotFound("institution_not_found")
    today = city_date(now)
    care = await entitlement_service.online_care(session, patient_id, today)
    if relationships is None:
        relationships = await care_repository.relationships_of_patient(session, patient_id)
    history: dict[uuid.UUID, float] = {}
    last_primary_seen = False
    for relationship in relationships:
        if relationship.kind == "primary" and not last_primary_seen:
            # The current, or most recent, receiving doctor.
            history[relationship.doctor_id] = 1.0
            last_primary_seen = True
        else:
            history.setdefault(relationship.doctor_id, 0.5)
    urgency = (await urgency_by_patient(session, [patient_id]))[patient_id]
    diagnosed = care.first_diagnosed_year
    request = AssignmentRequest(
        diseases=tuple(Disease(d.code, d.national_code) for d in care.diseases),
        institution_id=institution_id,
        urgency_level=urgency.level,
        history=history,
        course_years=today.year - diagnosed if diagnosed is not None else None,
    )
    return PatientContext(patient_id, request, urgency, diagnosed)


def _codes(request: AssignmentRequest) -> list[str]:
    return sorted({c for d in request.diseases for c in (d.code, d.national_code)})


async def ranked(
    session: AsyncSession,
    settings: Settings,
    context: PatientContext,
    purpose: str,
    now: datetime,
    *,
    exclude: Sequence[uuid.UUID] = (),
    present_only: bool = False,
    only: Sequence[uuid.UUID] | None = None,
) -> tuple[list[Score], int]:
    """Eligible doctors best first, and how many were considered.

    The database pre-ranks by an estimate of the total and returns only the candidates that
    could be among the best RANKED; `rank` then orders those exactly, so the result is the
    same as ranking every doctor in Python.
    """
    consultation = purpose in ("consultation", "handoff")
    weights = Weights.from_settings(settings)
    applied = weights.for_urgency(context.request.urgency_level)
    prerank = assignment_repository.Prerank(
        diseases=[(d.code, d.national_code) for d in context.request.diseases],
        institution_id=context.request.institution_id,
        history=context.request.history,
        weights=applied,
        course_maturity=course_maturity(context.request.course_years),
        consultation_limit=settings.consultation_queue_limit if consultation else None,
        limit=RANKED,
        margin=_estimate_margin(applied),
    )
    rows, considered = await assignment_repository.candidate_rows(
        session,
        _codes(context.request),
        exclude,
        now,
        present_only=present_only,
        only=only,
        prerank=prerank,
    )
    candidates = [candidate_of(row, settings, consultation, now) for row in rows]
    return rank(context.request, candidates, weights, RANKED), considered


def candidate_of(row: Any, settings: Settings, consultation: bool, now: datetime) -> Candidate:
    """A candidate row as the engine weighs it: a consultation fills the doctor's waiting
    queue, any other purpose their list of active patients."""
    return Candidate(
        doctor_id=row.id,
        institution_id=row.institution_id,
        specialties=frozenset(row.specialties),
        capacity=settings.consultation_queue_limit if consultation else row.max_active_patients,
        load=row.waiting if consultation else row.active,
        presence=row.status if row.status and row.expires_at > now else "offline",
        title_zh=row.title_zh,
    )


def _estimate_margin(applied: dict[str, float]) -> float:
    """How far the database's estimate may be from the exact total, twice over (the estimate
    skips the 4-decimal rounding of the specialty, load and course values and the 6-decimal
    rounding of the total), with room to spare for floating point."""
    rounded = abs(applied["specialty"]) + abs(applied["load"]) + abs(applied["course"])
    per_candidate = 5e-5 * rounded + 5e-7
    return 2 * per_candidate + 1e-6


async def record_decision(
    session: AsyncSession,
    principal: Principal | None,
    settings: Settings,
    context: PatientContext,
    purpose: str,
    chosen: Score,
    scores: list[Score],
    considered: int,
    now: datetime,
    note: str | None = None,
) -> AssignmentDecision:
    """Store why `chosen` was picked: its factors, the weights, the runners-up, the urgency."""
    weights = Weights.from_settings(settings).for_urgency(context.urgency.level)
    breakdown: dict[str, Any] = {
        "purpose": purpose,
        "weights": weights,
        "urgency": {
            "level": context.urgency.level,
            "open_alerts": context.urgency.open_alerts,
            "reasons": list(context.urgency.reasons),
        },
        "diseases": [d.code for d in context.request.diseases],
        # The disease course (病程) the course factor weighed; null years: none recorded.
        "course": {
            "diagnosed_year": context.diagnosed_year,
            "years": context.request.course_years,
        },
        "chosen": chosen.as_json(),
        "runners_up": [s.as_json() for s in scores if s is not chosen][:RUNNERS_UP],
        "note": note,
    }
    decision = AssignmentDecision(
        patient_id=context.patient_id,
        purpose=purpose,
        doctor_id=chosen.candidate.doctor_id,
        requested_institution_id=context.request.institution_id,
        urgency_level=context.urgency.level,
        total_score=round(chosen.total, 4),
        candidates_considered=considered,
        breakdown=breakdown,
        decided_at=now,
        decided_by_account_id=principal.account_id if principal is not None else None,
    )
    session.add(decision)
    await session.flush()
    return decision


async def first_with_room(
    scores: list[Score], take: Callable[[Score], Awaitable[T]]
) -> tuple[Score, T] | None:
    """Try the best candidates in turn; `take` raises DoctorAtCapacity when one has no room.

    A refusing `take` must leave no lock on the full doctor (`start_primary` locks only a
    doctor with room; a take that locks first runs in a savepoint, `retry_on_deadlock`), so a
    request holds at most one doctor lock and two requests cannot wait on each other's
    doctors in a cycle.
    """
    for candidate in scores[:MAX_ATTEMPTS]:
        try:
            return candidate, await take(candidate)
        except DoctorAtCapacity:
            continue
    return None


async def retry_on_deadlock(
    session: AsyncSession, attempt: Callable[[], Awaitable[T]], tries: int = 3
) -> T:
    """Run `attempt` in a savepoint; if PostgreSQL broke a lock cycle by failing it, roll back
    to the savepoint (releasing its locks) and run it again."""
    failures = 0
    while True:
        try:
            async with session.begin_nested():
                return await attempt()
        except DBAPIError as exc:
            cause = exc.orig.__cause__ if exc.orig is not None else None
            code = getattr(exc.orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
            failures += 1
            if code != _DEADLOCK or failures >= tries:
                raise
