"""SQL for care relationships, doctors' loads and family-doctor teams."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, Uuid, bindparam, false, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.models import (
    CareRelationship,
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    ConsultationRequest,
    Doctor,
    Patient,
    Role,
)


def _active(now: datetime) -> ColumnElement[bool]:
    return CareRelationship.ended_at.is_(None) & (CareRelationship.started_at <= now)


def relationship_scope(principal: Principal) -> ColumnElement[bool]:
    """Relationships the caller may see: a patient's own, a doctor's own."""
    if principal.role == Role.patient and principal.patient_id is not None:
        return CareRelationship.patient_id == principal.patient_id
    if principal.role == Role.doctor and principal.doctor_id is not None:
        return CareRelationship.doctor_id == principal.doctor_id
    return false()


async def list_visible(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    after_id: uuid.UUID | None,
    limit: int,
) -> Sequence[CareRelationship]:
    """The caller's active relationships, by id."""
    statement = select(CareRelationship).where(relationship_scope(principal), _active(now))
    if after_id is not None:
        statement = statement.where(CareRelationship.id > after_id)
    return (await session.scalars(statement.order_by(CareRelationship.id).limit(limit))).all()


async def get_relationship(
    session: AsyncSession, relationship_id: uuid.UUID, *, lock: bool = False
) -> CareRelationship | None:
    """A relationship by id (locked when asked)."""
    statement = select(CareRelationship).where(CareRelationship.id == relationship_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def active_primary(
    session: AsyncSession, patient_id: uuid.UUID, *, lock: bool = False
) -> CareRelationship | None:
    """The patient's active primary relationship."""
    statement = select(CareRelationship).where(
        CareRelationship.patient_id == patient_id,
        CareRelationship.kind == "primary",
        CareRelationship.ended_at.is_(None),
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def active_with(
    session: AsyncSession, patient_id: uuid.UUID, doctor_id: uuid.UUID
) -> CareRelationship | None:
    """The active relationship between a patient and a doctor, of whatever kind."""
    return await session.scalar(
        select(CareRelationship).where(
            CareRelationship.patient_id == patient_id,
            CareRelationship.doctor_id == doctor_id,
            CareRelationship.ended_at.is_(None),
        )
    )


# Built once (every assignment reads it): SQLAlchemy then finds its compiled form without
# building and keying the expression again.
_RELATIONSHIPS_OF_PATIENT = (
    select(CareRelationship)
    .where(CareRelationship.patient_id == bindparam("patient", type_=Uuid))
    .order_by(CareRelationship.started_at.desc())
)


async def relationships_of_patient(
    session: AsyncSession, patient_id: uuid.UUID
) -> Sequence[CareRelationship]:
    """Every relationship the patient ever had, of whatever kind, newest first."""
    return (await session.scalars(_RELATIONSHIPS_OF_PATIENT, {"patient": patient_id})).all()


async def count_active_primary(session: AsyncSession, doctor_id: uuid.UUID) -> int:
    """Exact number of patients the doctor is the receiving doctor of."""
    count = await session.scalar(
        select(func.count()).where(
            CareRelationship.doctor_id == doctor_id,
            CareRelationship.ended_at.is_(None),
            CareRelationship.kind == "primary",
        )
    )
    return count or 0


@dataclass(frozen=True)
class PrimaryStart:
    """What starting a primary relationship checks: the doctor's institution and capacity,
    their exact number of receiving-doctor patients, the patient's current access to them."""

    institution_id: uuid.UUID
    capacity: int
    active: int
    access_id: uuid.UUID | None


def _primary_start_statement() -> Select[Any]:
    doctor, patient = bindparam("doctor", type_=Uuid), bindparam("patient", type_=Uuid)
    active = (
        select(func.count())
        .where(
            CareRelationship.doctor_id == doctor,
            CareRelationship.ended_at.is_(None),
            CareRelationship.kind == "primary",
        )
        .scalar_subquery()
    )
    access = (
        select(CareRelationship.id)
        .where(
            CareRelationship.patient_id == patient,
            CareRelationship.doctor_id == doctor,
            CareRelationship.ended_at.is_(None),
        )
        .scalar_subquery()
    )
    return select(Doctor.institution_id, Doctor.max_active_patients, active, access).where(
        Doctor.id == doctor
    )


# Built once (the assignment path runs it on every request): SQLAlchemy then finds its
# compiled form without building and keying the expression again.
_PRIMARY_START = _primary_start_statement()


async def primary_start(
    session: AsyncSession, doctor_id: uuid.UUID, patient_id: uuid.UUID
) -> PrimaryStart | None:
    """The doctor's side of starting a primary relationship, in one round trip; None if there
    is no such doctor."""
    parameters = {"doctor": doctor_id, "patient": patient_id}
    row = (await session.execute(_PRIMARY_START, parameters)).one_or_none()
    return None if row is None else PrimaryStart(row[0], row[1], int(row[2] or 0), row[3])


async def count_waiting(session: AsyncSession, doctor_id: uuid.UUID) -> int:
    """Exact number of consultation requests waiting for the doctor."""
    count = await session.scalar(
        select(func.count()).where(
            ConsultationRequest.doctor_id == doctor_id, ConsultationRequest.status == "waiting"
        )
    )
    return count or 0


async def end_team_access(
    session: AsyncSession,
    team_id: uuid.UUID,
    now: datetime,
    *,
    patient_id: uuid.UUID | None = None,
    doctor_id: uuid.UUID | None = None,
) -> None:
    """End the team's relationships (for one patient and/or one member)."""
    statement = update(CareRelationship).where(
        CareRelationship.team_id == team_id, CareRelationship.ended_at.is_(None)
    )
    if patient_id is not None:
        statement = statement.where(CareRelationship.patient_id == patient_id)
    if doctor_id is not None:
        statement = statement.where(CareRelationship.doctor_id == doctor_id)
    await session.execute(statement.values(ended_at=now, ended_reason="left_team"))


async def get_team(session: AsyncSession, team_id: uuid.UUID) -> CareTeam | None:
    """A team by id."""
    return await session.get(CareTeam, team_id)


async def list_teams(session: AsyncSession, doctor_id: uuid.UUID | None) -> Sequence[CareTeam]:
    """Every team, or the teams a doctor belongs to."""
    statement = select(CareTeam)
    if doctor_id is not None:
        statement = statement.where(
            CareTeam.id.in_(
                select(CareTeamMember.team_id).where(CareTeamMember.doctor_id == doctor_id)
            )
        )
    return (await session.scalars(statement.order_by(CareTeam.created_at, CareTeam.id))).all()


async def members_of(
    session: AsyncSession, team_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[CareTeamMember, uuid.UUID]]]:
    """Members with their account ids, by team."""
    found: dict[uuid.UUID, list[tuple[CareTeamMember, uuid.UUID]]] = {t: [] for t in team_ids}
    if not team_ids:
        return found
    rows = await session.execute(
        select(CareTeamMember, Doctor.account_id)
        .join(Doctor, Doctor.id == CareTeamMember.doctor_id)
        .where(CareTeamMember.team_id.in_(list(team_ids)))
        .order_by(CareTeamMember.role, CareTeamMember.doctor_id)
    )
    for member, account_id in rows:
        found[member.team_id].append((member, account_id))
    return found


async def get_member(
    session: AsyncSession, team_id: uuid.UUID, doctor_id: uuid.UUID, *, lock: bool = False
) -> CareTeamMember | None:
    """One member of a team (row-locked when `lock`: a concurrent removal then finds none)."""
    if not lock:
        return await session.get(CareTeamMember, (team_id, doctor_id))
    return await session.scalar(
        select(CareTeamMember)
        .where(CareTeamMember.team_id == team_id, CareTeamMember.doctor_id == doctor_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def team_patient_ids(session: AsyncSession, team_id: uuid.UUID) -> Sequence[uuid.UUID]:
    """Patients currently in the team."""
    rows = await session.scalars(
        select(CareTeamPatient.patient_id).where(
            CareTeamPatient.team_id == team_id, CareTeamPatient.left_at.is_(None)
        )
    )
    return rows.all()


async def team_membership(
    session: AsyncSession, team_id: uuid.UUID, patient_id: uuid.UUID
) -> CareTeamPatient | None:
    """The patient's current membership of the team, row-locked (a concurrent removal waits,
    then finds none)."""
    return await session.scalar(
        select(CareTeamPatient)
        .where(
            CareTeamPatient.team_id == team_id,
            CareTeamPatient.patient_id == patient_id,
            CareTeamPatient.left_at.is_(None),
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def teams_sharing(
    session: AsyncSession, patient_id: uuid.UUID, doctor_id: uuid.UUID
) -> Sequence[uuid.UUID]:
    """Teams the patient is in that have the doctor as a member."""
    rows = await session.scalars(
        select(CareTeamPatient.team_id)
        .join(CareTeamMember, CareTeamMember.team_id == CareTeamPatient.team_id)
        .where(
            CareTeamPatient.patient_id == patient_id,
            CareTeamPatient.left_at.is_(None),
            CareTeamMember.doctor_id == doctor_id,
        )
    )
    return rows.all()


async def is_family_doctor_of(
    session: AsyncSession, doctor_id: uuid.UUID, patient_id: uuid.UUID
) -> bool:
    """Whether the doctor leads a team the patient is in."""
    found = await session.scalar(
        select(CareTeamMember.team_id)
        .join(CareTeamPatient, CareTeamPatient.team_id == CareTeamMember.team_id)
        .where(
            CareTeamMember.doctor_id == doctor_id,
            CareTeamMember.role == "family_doctor",
            CareTeamPatient.patient_id == patient_id,
            CareTeamPatient.left_at.is_(None),
        )
        .limit(1)
    )
    return found is not None


async def patient_account_id(session: AsyncSession, patient_id: uuid.UUID) -> uuid.UUID | None:
    """The account (realtime user id) of a patient."""
    return await session.scalar(select(Patient.account_id).where(Patient.id == patient_id))
