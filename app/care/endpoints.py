"""Care endpoints: care relationships and family-doctor teams."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.authz.principal import Principal, require_roles
from app.care import relationships as relationship_service
from app.care import teams as team_service
from app.care.schemas import (
    CareRelationshipOut,
    CareRelationshipPage,
    RelationshipEnd,
    TeamCreate,
    TeamMemberIn,
    TeamMemberOut,
    TeamOut,
    TeamPatientIn,
)
from app.care.teams import TeamView
from app.db import DbSession
from app.kit.pagination import Page, PageQuery
from app.models import Role

router = APIRouter(prefix="/api/v1/care", tags=["care"])

PatientOrDoctor = Annotated[Principal, require_roles(Role.patient, Role.doctor)]
DoctorOrAdmin = Annotated[Principal, require_roles(Role.doctor, Role.admin)]
Admin = Annotated[Principal, require_roles(Role.admin)]


def _team_out(view: TeamView) -> TeamOut:
    return TeamOut(
        id=view.team.id,
        institution_id=view.team.institution_id,
        name=view.team.name,
        members=[TeamMemberOut.model_validate(m) for m in view.members],
        member_account_ids=view.member_account_ids,
    )


@router.get("/relationships", response_model=CareRelationshipPage)
async def list_relationships(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
) -> CareRelationshipPage:
    """Active care relationships: a patient's doctors, or a doctor's patients (by id)."""
    resume = page.after(uuid.UUID)
    rows = await relationship_service.list_relationships(
        session, principal, resume[0] if resume else None, page.limit
    )
    items = [CareRelationshipOut.model_validate(r) for r in rows]
    return page.page_as(CareRelationshipPage, items, lambda r: (r.id,))


async def _relationship_exists(relationship_id: uuid.UUID, _: Admin, session: DbSession) -> None:
    # Dependencies run before the body is validated: an unknown id is 404 whatever the body.
    await relationship_service.get_existing(session, relationship_id)


async def _visible_team(team_id: uuid.UUID, principal: DoctorOrAdmin, session: DbSession) -> None:
    await team_service.get_team(session, principal, team_id)


VisibleTeam = Annotated[None, Depends(_visible_team)]


@router.post("/relationships/{relationship_id}/end", response_model=CareRelationshipOut)
async def end_relationship(
    relationship_id: uuid.UUID,
    _: Annotated[None, Depends(_relationship_exists)],
    body: RelationshipEnd,
    principal: Admin,
    session: DbSession,
) -> CareRelationshipOut:
    """End a care relationship (admin), e.g. when a patient leaves the pilot."""
    row = await relationship_service.end_by_id(session, principal, relationship_id, body.reason)
    return CareRelationshipOut.model_validate(row)


@router.post("/teams", response_model=TeamOut, status_code=status.HTTP_201_CREATED)
async def create_team(body: TeamCreate, _: Admin, session: DbSession) -> TeamOut:
    """Form a family-doctor team: one family doctor, health managers, specialists (admin)."""
    return _team_out(await team_service.create_team(session, body))


@router.get("/teams", response_model=Page[TeamOut])
async def list_teams(
    principal: DoctorOrAdmin, session: DbSession, page: PageQuery
) -> Page[TeamOut]:
    """Teams, oldest first: all of them (admin), or the caller's (doctor)."""
    teams = [_team_out(v) for v in await team_service.list_teams(session, principal)]
    return page.page_in_order(teams, lambda t: t.id)


@router.get("/teams/{team_id}", response_model=TeamOut)
async def get_team(team_id: uuid.UUID, principal: DoctorOrAdmin, session: DbSession) -> TeamOut:
    """One team (its members, or an admin)."""
    return _team_out(await team_service.get_team(session, principal, team_id))


@router.post("/teams/{team_id}/members", response_model=TeamOut)
async def add_team_member(
    team_id: uuid.UUID, _: VisibleTeam, body: TeamMemberIn, principal: Admin, session: DbSession
) -> TeamOut:
    """Add a doctor to a team (admin)."""
    return _team_out(await team_service.add_member(session, principal, team_id, body))


@router.delete("/teams/{team_id}/members/{doctor_id}", response_model=TeamOut)
async def remove_team_member(
    team_id: uuid.UUID, doctor_id: uuid.UUID, principal: Admin, session: DbSession
) -> TeamOut:
    """Take a doctor off a team (admin)."""
    view = await team_service.remove_member(session, principal, team_id, doctor_id)
    return _team_out(view)


@router.post("/teams/{team_id}/patients", response_model=TeamOut)
async def add_team_patient(
    team_id: uuid.UUID,
    _: VisibleTeam,
    body: TeamPatientIn,
    principal: DoctorOrAdmin,
    session: DbSession,
) -> TeamOut:
    """Put a patient in the team (its family doctor or an admin); every member sees them."""
    view = await team_service.add_patient(session, principal, team_id, body.patient_id)
    return _team_out(view)


@router.delete("/teams/{team_id}/patients/{patient_id}", response_model=TeamOut)
async def remove_team_patient(
    team_id: uuid.UUID, patient_id: uuid.UUID, principal: DoctorOrAdmin, session: DbSession
) -> TeamOut:
    """Take a patient off the team (its family doctor or an admin)."""
    view = await team_service.remove_patient(session, principal, team_id, patient_id)
    return _team_out(view)
