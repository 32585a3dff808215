"""SQL for the assignment engine: candidates, decisions and consultation requests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Float,
    String,
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

from app.authz.principal import Principal
from app.authz.scopes import doctor_patient_ids
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


def _treats_any(session: AsyncSession, codes: list[str]) -> ColumnElement[bool]:
    if session.get_bind().dialect.name == "postgresql":
        return Doctor.specialties.op("?|")(cast(codes, ARRAY(String)))
    each = func.json_each(Doctor.specialties).table_valued("value")
    return exists(select(1).select_from(each).where(each.c.value.in_(codes)))


async def lock_patient(session: AsyncSession, patient_id: uuid.UUID) -> bool:
    """Lock the patient's row (one assignment per patient at a time); False if there is none.

    Only the key is read: the lock is the point, and the row's encrypted fields would cost
    decryption for nothing."""
    locked = await session.scalar(
        select(Patient.id).where(Patient.id == patient_id).with_for_update()
    )
    return locked is not None


@dataclass(frozen=True)
class Prerank:
    """What the database needs to pre-rank candidates: an estimate of the engine's total
    (without its rounding) and its eligibility rule, so only the best few rows come back."""

    # One (code, national code) per disease; the doctor covers a disease treating either.
    diseases: Sequence[tuple[str, str]]
    institution_id: uuid.UUID | None
    history: dict[uuid.UUID, float]
    # Weights for this urgency: specialty, continuity, institution, load, presence.
    weights: dict[str, float]
    # Consultations weigh the waiting queue against this limit, else active patients.
    consultation_limit: int | None
    # At least the best `limit` eligible candidates (by the estimate, less `margin`) come back.
    limit: int
    margin: float


def _estimate(session: AsyncSession, prerank: Prerank, now: datetime) -> Any:
    w = prerank.weights
    if prerank.diseases:
        covered = sum(
            (
                case((_treats_any(session, [code, national]), 1.0), else_=0.0)
                for code, national in prerank.diseases
            ),
            literal(0.0),
        )
        total: Any = covered * (w["specialty"] / len(prerank.diseases))
    else:
        total = literal(0.0)
    for value in sorted(set(prerank.history.values())):
        ids = [d for d, v in prerank.history.items() if v == value]
        total = total + case((Doctor.id.in_(ids), value * w["continuity"]), else_=0.0)
    if prerank.institution_id is not None:
        total = total + case(
            (Doctor.institution_id == prerank.institution_id, w["institution"]), else_=0.0
        )
    load, capacity = _load_and_capacity(prerank)
    total = total + case(
        (capacity > 0, (1.0 - cast(load, Float) / cast(capacity, Float)) * w["load"]), else_=0.0
    )
    live = DoctorPresence.expires_at > now
    total = total + case(
        (live & (DoctorPresence.status == "online"), w["presence"]),
        (live & (DoctorPresence.status == "busy"), 0.5 * w["presence"]),
        else_=0.0,
    )
    return total


def _load_and_capacity(prerank: Prerank) -> tuple[Any, Any]:
    if prerank.consultation_limit is not None:
        return func.coalesce(DoctorLoad.waiting_consultations, 0), literal(
            prerank.consultation_limit
        )
    return func.coalesce(DoctorLoad.active_patients, 0), Doctor.max_active_patients


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
    `margin` of the `limit`-th best estimate come back (a superset of the best `limit`)."""
    live = (DoctorPresence.expires_at > now) & (DoctorPresence.status != "offline")
    columns: list[Any] = [
        Doctor.id,
        Doctor.institution_id,
        Doctor.specialties,
        Doctor.max_active_patients,
        func.coalesce(DoctorLoad.active_patients, 0).label("active"),
        func.coalesce(DoctorLoad.waiting_consultations, 0).label("waiting"),
        DoctorPresence.status,
        DoctorPresence.expires_at,
        func.count().over().label("considered"),
    ]
    if prerank is not None:
        load, capacity = _load_and_capacity(prerank)
        columns += [
            _estimate(session, prerank, now).label("estimate"),
            (load < capacity).label("eligible"),
        ]
    statement = (
        select(*columns)
        .join(Account, Account.id == Doctor.account_id)
        .outerjoin(DoctorLoad, DoctorLoad.doctor_id == Doctor.id)
        .outerjoin(DoctorPresence, DoctorPresence.doctor_id == Doctor.id)
        # Doctors' accounts are doctor accounts: the role lets the planner use the small
        # partial index of active doctor accounts instead of scanning every account.
        .where(
            # A literal, not a parameter: a generic prepared plan could not use the index.
            Account.role == literal_column("'doctor'"),
            Account.is_active.is_(True),
            _treats_any(session, specialty_codes),
        )
    )
    if exclude:
        statement = statement.where(Doctor.id.not_in(list(exclude)))
    if present_only:
        statement = statement.where(live)
    if only is not None:
        statement = statement.where(Doctor.id.in_(list(only)))
    if prerank is None:
        rows = (await session.execute(statement)).all()
        return rows, len(rows)
    scored = statement.cte("scored")
    cutoff = (
        select(scored.c.estimate)
        .where(scored.c.eligible)
        .order_by(scored.c.estimate.desc())
        .limit(1)
        .offset(prerank.limit - 1)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(scored).where(
                scored.c.eligible,
                scored.c.estimate >= func.coalesce(cutoff, -1e9) - prerank.margin,
            )
        )
    ).all()
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
) -> Sequence[AssignmentDecision]:
    """Decisions the caller may see (optionally about one patient), newest first."""
    statement = select(AssignmentDecision).where(decision_scope(principal, now))
    if patient_id is not None:
        statement = statement.where(AssignmentDecision.patient_id == patient_id)
    statement = statement.order_by(AssignmentDecision.decided_at.desc()).limit(limit)
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
