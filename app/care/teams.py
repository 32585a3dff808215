"""Family-doctor teams: every member of a patient's team sees the patient (a `team` care
relationship per member), for as long as both stay in the team."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app import events
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.care import relationships as relationship_service
from app.care import repository as care_repository
from app.care.facts import CareTeamChanged, PatientLeftTeam
from app.care.schemas import TeamCreate, TeamMemberIn
from app.doctor import repository as doctor_repository
from app.errors import Conflict, NotFound
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.kit.sql import add_unique
from app.models import CareTeam, CareTeamMember, CareTeamPatient, Institution, Role

TEAM_PATIENT_RESOURCE = "care_team_patient"


@dataclass(frozen=True)
class TeamView:
    """A team with its members; `member_account_ids` is what a group conversation needs."""

    team: CareTeam
    members: list[CareTeamMember]
    member_account_ids: list[uuid.UUID]


async def _view(session: AsyncSession, team: CareTeam) -> TeamView:
    members = (await care_repository.members_of(session, [team.id]))[team.id]
    return TeamView(team, [m for m, _ in members], [a for _, a in members])


async def _changed(session: AsyncSession, view: TeamView) -> TeamView:
    """Record that the team changed (its patients' group conversations follow it)."""
    await events.record(
        session, CareTeamChanged(view.team.id, view.team.name, view.member_account_ids)
    )
    return view


async def _team_for(session: AsyncSession, principal: Principal, team_id: uuid.UUID) -> CareTeam:
    """A team the caller may see: admins see all, doctors the teams they are in."""
    team = await care_repository.get_team(session, team_id)
    if team is None:
        raise NotFound()
    if principal.role == Role.admin:
        return team
    if (
        principal.doctor_id is None
        or await care_repository.get_member(session, team.id, principal.doctor_id) is None
    ):
        raise NotFound()
    return team


async def create_team(session: AsyncSession, body: TeamCreate) -> TeamView:
    """A new team (admin) with exactly one family doctor, all of one institution, under a name
    no other team of the institution has."""
    if sum(1 for m in body.members if m.role == "family_doctor") != 1:
        raise Conflict("team_needs_family_doctor")
    if await by_id(session, Institution, body.institution_id) is None:
        raise NotFound("institution_not_found")
    team = CareTeam(institution_id=body.institution_id, name=body.name)
    if not await add_unique(session, team):
        raise Conflict("team_name_taken")
    for member in body.members:
        await _add_member(session, team, member)
    return await _changed(session, await _view(session, team))


async def _add_member(session: AsyncSession, team: CareTeam, member: TeamMemberIn) -> None:
    doctor = await doctor_repository.get_doctor(session, member.doctor_id)
    if doctor is None:
        raise NotFound("doctor_not_found")
    if doctor.institution_id != team.institution_id:
        raise Conflict("team_member_other_institution")
    row = CareTeamMember(team_id=team.id, doctor_id=doctor.id, role=member.role)
    if not await add_unique(session, row):
        raise Conflict(
            "team_needs_family_doctor" if member.role == "family_doctor" else "team_member_exists"
        )
    now = utcnow()
    for patient_id in await care_repository.team_patient_ids(session, team.id):
        await relationship_service.grant_access(
            session, patient_id, doctor.id, "team", now, team.id
        )


async def add_member(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, member: TeamMemberIn
) -> TeamView:
    """Add a doctor to a team (admin); they see the team's patients from now on."""
    team = await _team_for(session, principal, team_id)
    await _add_member(session, team, member)
    return await _changed(session, await _view(session, team))


async def remove_member(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, doctor_id: uuid.UUID
) -> TeamView:
    """Take a doctor off a team (admin); their team access ends. The family doctor stays."""
    team = await _team_for(session, principal, team_id)
    member = await care_repository.get_member(session, team.id, doctor_id, lock=True)
    if member is None:
        raise NotFound()
    if member.role == "family_doctor":
        raise Conflict("team_needs_family_doctor")
    await session.delete(member)
    await care_repository.end_team_access(session, team.id, utcnow(), doctor_id=doctor_id)
    await session.flush()
    return await _changed(session, await _view(session, team))


async def get_team(session: AsyncSession, principal: Principal, team_id: uuid.UUID) -> TeamView:
    """A team the caller may see."""
    return await _view(session, await _team_for(session, principal, team_id))


async def list_teams(session: AsyncSession, principal: Principal) -> list[TeamView]:
    """All teams (admin) or the caller's teams (doctor)."""
    doctor_filter = None if principal.role == Role.admin else principal.doctor_id
    teams = await care_repository.list_teams(session, doctor_filter)
    members = await care_repository.members_of(session, [t.id for t in teams])
    return [
        TeamView(t, [m for m, _ in members[t.id]], [a for _, a in members[t.id]]) for t in teams
    ]


async def _require_manager(session: AsyncSession, principal: Principal, team: CareTeam) -> None:
    if principal.role == Role.admin:
        return
    member = await care_repository.get_member(session, team.id, principal.doctor_id or uuid.uuid4())
    if member is None or member.role != "family_doctor":
        raise NotFound()


async def add_patient(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, patient_id: uuid.UUID
) -> TeamView:
    """Put a patient in the team (its family doctor, for a patient in their care, or an admin);
    every member then sees the patient."""
    team = await _team_for(session, principal, team_id)
    await _require_manager(session, principal, team)
    if principal.role == Role.doctor:
        await relationship_service.require_in_care(session, principal, patient_id)
    elif await care_repository.patient_account_id(session, patient_id) is None:
        raise NotFound()
    now = utcnow()
    if not await add_unique(
        session, CareTeamPatient(team_id=team.id, patient_id=patient_id, joined_at=now)
    ):
        raise Conflict("team_patient_exists")
    view = await _view(session, team)
    for member in view.members:
        await relationship_service.grant_access(
            session, patient_id, member.doctor_id, "team", now, team.id
        )
    await audit_service.record(
        session, principal, AuditAction.create, TEAM_PATIENT_RESOURCE, team.id, patient_id
    )
    return await _changed(session, view)


async def remove_patient(
    session: AsyncSession, principal: Principal, team_id: uuid.UUID, patient_id: uuid.UUID
) -> TeamView:
    """Take a patient off the team; the members' team access to them ends."""
    team = await _team_for(session, principal, team_id)
    await _require_manager(session, principal, team)
    membership = await care_repository.team_membership(session, team.id, patient_id)
    if membership is None:
        raise NotFound()
    now = utcnow()
    membership.left_at = now
    await care_repository.end_team_access(session, team.id, now, patient_id=patient_id)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.delete, TEAM_PATIENT_RESOURCE, team.id, patient_id
    )
    await events.record(session, PatientLeftTeam(team.id, team.name, patient_id))
    return await _changed(session, await _view(session, team))
