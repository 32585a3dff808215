"""SQL for the assignment engine: candidates, decisions and consultation requests."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.assignment.scoring import SENIORITY
from app.authz.principal import Principal
from app.authz.scopes import doctor_patient_ids
from app.kit.pagination import beyond
from app.models import (
    Account,
    AssignmentDecision,
    ConsultationRequest,
    Doctor,
    DoctorLoad,
    DoctorPresence,
    Patient,
    Role,
)


def _treats_any(dialect: str, codes: str) -> ColumnElement[bool]:
    """The doctor treats any of the codes in the bind parameter `codes`."""
    if dialect == "postgresql":
        return Doctor.specialties.op("?|")(bindparam(codes, type_=ARRAY(String)))
    each = func.json_each(Doctor.specialties).table_valued("value")
    return exists(
        select(1).select_from(each).where(each.c.value.in_(bindparam(codes, expanding=True)))
    )


# Statements every assignment runs are built once: SQLAlchemy then finds their compiled form
# without building and keying the expression again (a few hundred microseconds each).
_LOCK_PATIENT = select(Patient.id).where(Patient.id == bindparam("patient")).with_for_update()


async def lock_patient(session: AsyncSession, patient_id: uuid.UUID) -> bool:
    """Lock the patient's row (one assignment per patient at a time); False if there is none.

    Only the key is read: the lock is the point, and the row's encrypted fields would cost
    decryption for nothing."""
    return await session.scalar(_LOCK_PATIENT, {"patient": patient_id}) is not None


@dataclass(frozen=True)
class Prerank:
    """What the database needs to pre-rank candidates: an estimate of the engine's total
    (without its rounding) and its eligibility rule, so only the best few rows come back."""

    # One (code, national code) per disease; the doctor covers a disease treating either.
    diseases: Sequence[tuple[str, str]]
    institution_id: uuid.UUID | None
    history: dict[uuid.UUID, float]
    # Weights for this urgency: specialty, continuity, institution, load, presence, course.
    weights: dict[str, float]
    # The course's maturity (scoring.course_maturity): None when no diagnosis year is known.
    course_maturity: float | None
    # Consultations weigh the waiting queue against this limit, else active patients.
    consultation_limit: int | None
    # At least the best `limit` eligible candidates (by the estimate, less `margin`) come back.
    limit: int
    margin: float


@dataclass(frozen=True)
class _Shape:
    """What decides the candidate statement's SQL; everything else is a bind parameter."""

    dialect: str
    # Only with a pre-rank: diseases weighed, distinct continuity values, queue or list.
    diseases: int
    continuity_values: int
    consultation: bool
    prerank: bool
    exclude: bool
    present_only: bool
    only: bool


def _load_and_capacity(consultation: bool) -> tuple[Any, Any]:
    if consultation:
        return func.coalesce(DoctorLoad.waiting_consultations, 0), bindparam(
            "consultation_limit", type_=Integer
        )
    return func.coalesce(DoctorLoad.active_patients, 0), Doctor.max_active_patients


def _points(name: str) -> Any:
    return bindparam(name, type_=Float)


def _estimate(shape: _Shape) -> tuple[Any, list[Any]]:
    """The engine's total without its rounding (the weights are bind parameters), and the
    values of the factors it weighs other than load, as labelled columns. The course factor is
    seniority and room, each weighed by its share of the course weight."""
    covered: Any = literal(0.0)
    for i in range(shape.diseases):
        covered = covered + case((_treats_any(shape.dialect, f"disease_{i}"), 1.0), else_=0.0)
    # A doctor is in at most one continuity group.
    continuity = (
        case(
            *(
                (
                    Doctor.id.in_(bindparam(f"continuity_ids_{i}", expanding=True)),
                    _points(f"continuity_{i}"),
                )
                for i in range(shape.continuity_values)
            ),
            else_=0.0,
        )
        if shape.continuity_values
        else literal(0.0)
    )
    # A NULL institution matches no doctor.
    institution = case((Doctor.institution_id == bindparam("institution_id"), 1.0), else_=0.0)
    load, capacity = _load_and_capacity(shape.consultation)
    live = DoctorPresence.expires_at > bindparam("now")
    presence = case(
        (live & (DoctorPresence.status == "online"), 1.0),
        (live & (DoctorPresence.status == "busy"), 0.5),
        else_=0.0,
    )
    room = case((capacity > 0, 1.0 - cast(load, Float) / cast(capacity, Float)), else_=0.0)
    seniority = case(SENIORITY, value=Doctor.title_zh, else_=0.0)
    total = (
        covered * _points("specialty_share")
        + continuity * _points("continuity")
        + institution * _points("institution")
        + room * (_points("load") + _points("course_room"))
        + presence * _points("presence")
        + seniority * _points("course_seniority")
    )
    return total, [
        covered.label("covered"),
        continuity.label("continuity_value"),
        institution.label("at_institution"),
        presence.label("presence_value"),
        seniority.label("seniority"),
    ]


@functools.cache
def _candidate_statement(shape: _Shape) -> Select[Any]:
    """Built once per shape, so SQLAlchemy finds it in its compiled cache without
    rebuilding or re-keying the expression on every request."""
    columns: list[Any] = [
        Doctor.id,
        Doctor.institution_id,
        Doctor.specialties,
        Doctor.max_active_patients,
        Doctor.title_zh,
        func.coalesce(DoctorLoad.active_patients, 0).label("active"),
        func.coalesce(DoctorLoad.waiting_consultations, 0).label("waiting"),
        DoctorPresence.status,
        DoctorPresence.expires_at,
        func.count().over().label("considered"),
    ]
    if shape.prerank:
        load, capacity = _load_and_capacity(shape.consultation)
        estimate, factors = _estimate(shape)
        columns += [estimate.label("estimate"), (load < capacity).label("eligible"), *factors]
    active_doctor_accounts = (
        select(Account.id)
        # Doctors' accounts are doctor accounts: the role lets the planner use the small
        # partial index of active doctor accounts instead of scanning every account.
        .where(
            # A literal, not a parameter: a generic prepared plan could not use the index.
            Account.role == literal_column("'doctor'"),
            Account.is_active.is_(True),
        )
        # OFFSET 0 keeps this a semi-join. Joined, PostgreSQL estimated ~1% of the doctors
        # from the accounts foreign key (1,000 of 75,000 accounts) and fetched their loads and
        # presence by index one doctor at a time instead of hashing both small tables.
        .offset(literal_column("0"))
    )
    statement = (
        select(*columns)
        .outerjoin(DoctorLoad, DoctorLoad.doctor_id == Doctor.id)
        .outerjoin(DoctorPresence, DoctorPresence.doctor_id == Doctor.id)
        .where(
            Doctor.account_id.in_(active_doctor_accounts),
            _treats_any(shape.dialect, "codes"),
        )
    )
    if shape.exclude:
        statement = statement.where(Doctor.id.not_in(bindparam("exclude", expanding=True)))
    if shape.present_only:
        statement = statement.where(
            (DoctorPresence.expires_at > bindparam("now")) & (DoctorPresence.status != "offline")
        )
    if shape.only:
        statement = statement.where(Doctor.id.in_(bindparam("only", expanding=True)))
    if not shape.prerank:
        return statement
    scored = statement.cte("scored")
    cutoff = (
        select(scored.c.estimate)
        .where(scored.c.eligible)
        .order_by(scored.c.estimate.desc())
        .limit(1)
        .offset(bindparam("cutoff_offset", type_=Integer))
        .scalar_subquery()
    )
    alike = [
        scored.c[name]
        for name in (
            "covered",
            "continuity_value",
            "at_institution",
            "presence_value",
            "seniority",
            "active",
            "waiting",
            "max_active_patients",
        )
    ]
    near = (
        select(
            scored,
            # Doctors alike in every factor have the same exact total and load ratio, and
            # the engine orders them by id: those behind `limit` of them cannot rank.
            func.row_number().over(partition_by=alike, order_by=scored.c.id).label("place"),
        )
        .where(
            scored.c.eligible,
            scored.c.estimate >= func.coalesce(cutoff, -1e9) - _points("margin"),
        )
        .subquery("near")
    )
    return select(near).where(near.c.place <= bindparam("limit", type_=Integer))


def _prerank_parameters(prerank: Prerank) -> dict[str, Any]:
    w = prerank.weights
    parameters: dict[str, Any] = {
        "specialty_share": w["specialty"] / len(prerank.diseases) if prerank.diseases else 0.0,
        "continuity": w["continuity"],
        "institution_id": prerank.institution_id,
        "institution": w["institution"],
        "load": w["load"],
        "presence": w["presence"],
        "course_seniority": w["course"] * (prerank.course_maturity or 0.0),
        "course_room": (
            w["course"] * (1.0 - prerank.course_maturity)
            if prerank.course_maturity is not None
            else 0.0
        ),
        "limit": prerank.limit,
        "cutoff_offset": prerank.limit - 1,
        "margin": prerank.margin,
    }
    for i, (code, national) in enumerate(prerank.diseases):
        parameters[f"disease_{i}"] = [code, national]
    for i, value in enumerate(sorted(set(prerank.history.values()))):
        parameters[f"continuity_ids_{i}"] = [d for d, v in prerank.history.items() if v == value]
        parameters[f"continuity_{i}"] = value
    if prerank.consultation_limit is not None:
        parameters["consultation_limit"] = prerank.consultation_limit
    return parameters


async def candidate_rows(
    session: AsyncSession,
    specialty_codes: list[str],
    exclude: Sequence[uuid.UUID],
    now: datetime,
    *,
    present_only: bool = False,
    only: Sequence[uuid.UUID] | None = None,
    prerank: Prerank | None = None,
) -> tuple[Sequence[Any], int]:
    """Active doctors treating any of the codes, with load counters and live presence, and
    how many there are. With `prerank`, only eligible doctors whose estimated total is within
    `margin` of the `limit`-th best estimate come back, and of doctors alike in every factor
    only the `limit` first by id: still a superset of the best `limit`."""
    shape = _Shape(
        dialect=session.get_bind().dialect.name,
        diseases=len(prerank.diseases) if prerank else 0,
        continuity_values=len(set(prerank.history.values())) if prerank else 0,
        consultation=prerank is not None and prerank.consultation_limit is not None,
        prerank=prerank is not None,
        exclude=bool(exclude),
        present_only=present_only,
        only=only is not None,
    )
    parameters: dict[str, Any] = {"codes": specialty_codes, "now": now}
    if exclude:
        parameters["exclude"] = list(exclude)
    if only is not None:
        parameters["only"] = list(only)
    if prerank is not None:
        parameters |= _prerank_parameters(prerank)
    rows = (await session.execute(_candidate_statement(shape), parameters)).all()
    if prerank is None:
        return rows, len(rows)
    return rows, (rows[0].considered if rows else 0)


def decision_scope(principal: Principal, now: datetime) -> ColumnElement[bool]:
    """Decisions the caller may see: a patient's own; a doctor's patients' and their own."""
    if principal.role == Role.patient and principal.patient_id is not None:
        return AssignmentDecision.patient_id == principal.patient_id
    if principal.role == Role.doctor and principal.doctor_id is not None:
        return or_(
            AssignmentDecision.doctor_id == principal.doctor_id,
            AssignmentDecision.patient_id.in_(doctor_patient_ids(principal.doctor_id, now)),
        )
    return false()


async def get_decision(
    session: AsyncSession, principal: Principal, decision_id: uuid.UUID, now: datetime
) -> AssignmentDecision | None:
    """A decision the caller may see."""
    return await session.scalar(
        select(AssignmentDecision).where(
            AssignmentDecision.id == decision_id, decision_scope(principal, now)
        )
    )


async def list_decisions(
    session: AsyncSession,
    principal: Principal,
    patient_id: uuid.UUID | None,
    now: datetime,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> Sequence[AssignmentDecision]:
    """Decisions the caller may see (optionally about one patient), newest first; `after`:
    only those after that (decided_at, id) in this order."""
    statement = select(AssignmentDecision).where(decision_scope(principal, now))
    if patient_id is not None:
        statement = statement.where(AssignmentDecision.patient_id == patient_id)
    order = (AssignmentDecision.decided_at, AssignmentDecision.id)
    if after is not None:
        statement = statement.where(beyond(order, after, descending=True))
    statement = statement.order_by(*(c.desc() for c in order)).limit(limit)
    return (await session.scalars(statement)).all()


async def latest_decision(
    session: AsyncSession, patient_id: uuid.UUID, doctor_id: uuid.UUID
) -> AssignmentDecision | None:
    """The newest decision that sent the patient to the doctor."""
    return await session.scalar(
        select(AssignmentDecision)
        .where(
            AssignmentDecision.patient_id == patient_id, AssignmentDecision.doctor_id == doctor_id
        )
        .order_by(AssignmentDecision.decided_at.desc())
        .limit(1)
    )


def request_scope(principal: Principal) -> ColumnElement[bool]:
    """Consultation requests the caller may see: the patient's own, the assigned doctor's."""
    if principal.role == Role.patient and principal.patient_id is not None:
        return ConsultationRequest.patient_id == principal.patient_id
    if principal.role == Role.doctor and principal.doctor_id is not None:
        return ConsultationRequest.doctor_id == principal.doctor_id
    return false()


async def get_request(
    session: AsyncSession, principal: Principal, request_id: uuid.UUID, *, lock: bool = False
) -> ConsultationRequest | None:
    """A consultation request the caller may see (locked when asked)."""
    statement = select(ConsultationRequest).where(
        ConsultationRequest.id == request_id, request_scope(principal)
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def request_by_key(
    session: AsyncSession, patient_id: uuid.UUID, idempotency_key: str
) -> ConsultationRequest | None:
    """The patient's request created with this idempotency key."""
    return await session.scalar(
        select(ConsultationRequest).where(
            ConsultationRequest.patient_id == patient_id,
            ConsultationRequest.idempotency_key == idempotency_key,
        )
    )


async def open_request(session: AsyncSession, patient_id: uuid.UUID) -> ConsultationRequest | None:
    """The patient's waiting or ongoing request."""
    return await session.scalar(
        select(ConsultationRequest).where(
            ConsultationRequest.patient_id == patient_id,
            ConsultationRequest.status.in_(("waiting", "in_consultation")),
        )
    )


async def waiting_for(
    session: AsyncSession, doctor_id: uuid.UUID, *, lock: bool = False
) -> Sequence[ConsultationRequest]:
    """Requests waiting for the doctor (unordered: callers sort with queue.queue_key)."""
    statement = select(ConsultationRequest).where(
        ConsultationRequest.doctor_id == doctor_id, ConsultationRequest.status == "waiting"
    )
    if lock:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).all()


async def ongoing_started_at(session: AsyncSession, doctor_id: uuid.UUID) -> datetime | None:
    """When the doctor's ongoing consultation started, if they are in one."""
    return await session.scalar(
        select(func.max(ConsultationRequest.started_at)).where(
            ConsultationRequest.doctor_id == doctor_id,
            ConsultationRequest.status == "in_consultation",
        )
    )


async def recent_durations(
    session: AsyncSession, doctor_id: uuid.UUID, since: datetime, limit: int = 50
) -> list[float]:
    """Lengths in minutes of the doctor's latest completed consultations since `since`."""
    rows = await session.execute(
        select(ConsultationRequest.started_at, ConsultationRequest.ended_at)
        .where(
            ConsultationRequest.doctor_id == doctor_id,
            ConsultationRequest.status == "completed",
            ConsultationRequest.ended_at >= since,
            ConsultationRequest.started_at.is_not(None),
        )
        .order_by(ConsultationRequest.ended_at.desc())
        .limit(limit)
    )
    return [
        (ended - started) / timedelta(minutes=1)
        for started, ended in rows
        if started is not None and ended is not None
    ]


async def account_of_patients(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """Patients' account ids (their realtime user ids)."""
    if not patient_ids:
        return {}
    rows = await session.execute(
        select(Patient.id, Patient.account_id).where(Patient.id.in_(list(set(patient_ids))))
    )
    return dict(rows.all())
