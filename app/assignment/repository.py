"""SQL for the assignment engine: candidates, decisions and consultation requests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, String, cast, exists, false, func, or_, select
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


async def lock_patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient | None:
    """The patient row, locked: one assignment per patient at a time."""
    return await session.scalar(select(Patient).where(Patient.id == patient_id).with_for_update())


async def candidate_rows(
    session: AsyncSession,
    specialty_codes: list[str],
    exclude: Sequence[uuid.UUID],
    now: datetime,
    *,
    present_only: bool = False,
    only: Sequence[uuid.UUID] | None = None,
) -> Sequence[Any]:
    """Active doctors treating any of the codes, with load counters and live presence."""
    live = (DoctorPresence.expires_at > now) & (DoctorPresence.status != "offline")
    statement = (
        select(
            Doctor.id,
            Doctor.institution_id,
            Doctor.specialties,
            Doctor.max_active_patients,
            func.coalesce(DoctorLoad.active_patients, 0).label("active"),
            func.coalesce(DoctorLoad.waiting_consultations, 0).label("waiting"),
            DoctorPresence.status,
            DoctorPresence.expires_at,
        )
        .join(Account, Account.id == Doctor.account_id)
        .outerjoin(DoctorLoad, DoctorLoad.doctor_id == Doctor.id)
        .outerjoin(DoctorPresence, DoctorPresence.doctor_id == Doctor.id)
        .where(Account.is_active.is_(True), _treats_any(session, specialty_codes))
    )
    if exclude:
        statement = statement.where(Doctor.id.not_in(list(exclude)))
    if present_only:
        statement = statement.where(live)
    if only is not None:
        statement = statement.where(Doctor.id.in_(list(only)))
    return (await session.execute(statement)).all()


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
