"""Races on referrals completed or cancelled, family-doctor teams, transfers and a change of
doctor - N identical requests at once against a real server on PostgreSQL: one 2xx and otherwise
409 problem+json (404 for a DELETE whose row is gone, as one by one), never a 500, and the
database holds one effect."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    AssignmentDecision,
    CareRelationship,
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    DoctorLoad,
    DoctorWorkingHours,
    Role,
)
from tests.enrollment import builders
from tests.fixtures import factories
from tests.fixtures.races import RaceServer, race
from tests.races.conftest import committed, referral

pytestmark = pytest.mark.postgres

TEAMS = "/api/v1/care/teams"


def _active(*conditions):  # type: ignore[no-untyped-def]
    return (CareRelationship.ended_at.is_(None), *conditions)


async def test_a_referral_completed_at_once_hands_the_patient_over_once(
    server: RaceServer,
) -> None:
    """The receiving doctor presses complete on several devices at once: one completion, the
    patient's primary doctor is the receiving one exactly once, the referral access ends once."""
    referred = await referral(server, accepted=True)
    url = f"/api/v1/care/referrals/{referred.referral_id}/complete"
    result = await race(
        server.http, "POST", url, json={"reason": "已接诊"}, headers=referred.receiving
    )
    result.one_winner("referral_transition_illegal")
    primaries = select(CareRelationship.doctor_id).where(
        *_active(
            CareRelationship.patient_id == referred.patient_id, CareRelationship.kind == "primary"
        )
    )
    async with server.sessionmaker() as session:
        assert list(await session.scalars(primaries)) == [referred.receiving_doctor_id]
    started = await server.count(
        CareRelationship,
        CareRelationship.patient_id == referred.patient_id,
        CareRelationship.doctor_id == referred.receiving_doctor_id,
    )
    assert started == 2  # the referral access (now ended) and the one primary relationship
    assert await server.audits(referred.referral_id, "update") == 2  # accept, complete


async def test_a_referral_cancelled_at_once_is_cancelled_once(server: RaceServer) -> None:
    referred = await referral(server, accepted=False)
    url = f"/api/v1/care/referrals/{referred.referral_id}/cancel"
    result = await race(
        server.http, "POST", url, json={"reason": "患者拒绝"}, headers=referred.referring
    )
    result.one_winner("referral_transition_illegal")
    assert await server.audits(referred.referral_id, "update") == 1


@dataclass
class Team:
    admin: dict[str, str]
    institution_id: uuid.UUID
    family_doctor_id: uuid.UUID
    colleague_id: uuid.UUID
    patient_id: uuid.UUID


async def _team_world(server: RaceServer) -> Team:
    """An admin, a community institution with two doctors and a patient in the first one's
    care."""

    async def build(session: AsyncSession) -> Team:
        admin = await factories.account(session, Role.admin)
        community = await factories.institution(session, level="secondary")
        doctors = []
        for _ in range(2):
            doctor = await factories.doctor_of(
                session, await factories.account(session, Role.doctor)
            )
            doctor.institution_id = community.id
            doctors.append(doctor)
        await session.flush()
        patient = await factories.patient_of(
            session, await factories.account(session, Role.patient)
        )
        await factories.care(session, patient, doctors[0])
        return Team(
            await factories.bearer(session, server.settings, admin),
            community.id,
            doctors[0].id,
            doctors[1].id,
            patient.id,
        )

    return await committed(server, build)


async def _made_team(server: RaceServer, world: Team, *, with_colleague: bool) -> str:
    members = [{"doctor_id": str(world.family_doctor_id), "role": "family_doctor"}]
    if with_colleague:
        members.append({"doctor_id": str(world.colleague_id), "role": "health_manager"})
    body = {"institution_id": str(world.institution_id), "name": "家医一组", "members": members}
    made = await server.http.post(TEAMS, json=body, headers=world.admin)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_one_team_created_at_once_is_formed_once(server: RaceServer) -> None:
    """An admin's double press on "form team" makes one team; the copies are 409, as a second
    team of that name in the institution is."""
    world = await _team_world(server)
    body = {
        "institution_id": str(world.institution_id),
        "name": "家医二组",
        "members": [{"doctor_id": str(world.family_doctor_id), "role": "family_doctor"}],
    }
    result = await race(server.http, "POST", TEAMS, json=body, headers=world.admin)
    result.one_winner("team_name_taken")
    teams = await server.count(CareTeam, CareTeam.institution_id == world.institution_id)
    assert teams == 1


async def test_a_member_added_at_once_joins_once(server: RaceServer) -> None:
    world = await _team_world(server)
    team_id = await _made_team(server, world, with_colleague=False)
    body = {"doctor_id": str(world.colleague_id), "role": "specialist"}
    url = f"{TEAMS}/{team_id}/members"
    (await race(server.http, "POST", url, json=body, headers=world.admin)).one_winner(
        "team_member_exists"
    )
    assert await server.count(CareTeamMember, CareTeamMember.team_id == uuid.UUID(team_id)) == 2


async def _team_with_patient(server: RaceServer):  # type: ignore[no-untyped-def]
    """A team of the family doctor and a colleague, with the patient in it: (world, team id)."""
    world = await _team_world(server)
    team_id = await _made_team(server, world, with_colleague=True)
    joined = await server.http.post(
        f"{TEAMS}/{team_id}/patients",
        json={"patient_id": str(world.patient_id)},
        headers=world.admin,
    )
    assert joined.status_code == 200, joined.text
    return world, team_id


async def test_a_member_removed_at_once_leaves_once(server: RaceServer) -> None:
    """One removal ends the member's team access; the copies find no member (404, as a
    removal of someone not in the team is one by one), never a 500."""
    world, team_id = await _team_with_patient(server)
    url = f"{TEAMS}/{team_id}/members/{world.colleague_id}"
    result = await race(server.http, "DELETE", url, headers=world.admin)
    result.no_server_errors()
    assert result.statuses == [200] + [404] * (len(result.responses) - 1), result.statuses
    assert await server.count(CareTeamMember, CareTeamMember.team_id == uuid.UUID(team_id)) == 1
    access = _active(
        CareRelationship.team_id == uuid.UUID(team_id),
        CareRelationship.doctor_id == world.colleague_id,
    )
    assert await server.count(CareRelationship, *access) == 0


async def test_a_patient_put_in_a_team_at_once_joins_once(server: RaceServer) -> None:
    """Every member sees the patient through one relationship each, not one per copy."""
    world = await _team_world(server)
    team_id = await _made_team(server, world, with_colleague=True)
    url = f"{TEAMS}/{team_id}/patients"
    body = {"patient_id": str(world.patient_id)}
    (await race(server.http, "POST", url, json=body, headers=world.admin)).one_winner(
        "team_patient_exists"
    )
    team = uuid.UUID(team_id)
    in_team = (CareTeamPatient.team_id == team, CareTeamPatient.patient_id == world.patient_id)
    assert await server.count(CareTeamPatient, *in_team) == 1
    access = _active(CareRelationship.team_id == team, CareRelationship.kind == "team")
    # The family doctor already sees the patient (primary care): the colleague gets one.
    assert await server.count(CareRelationship, *access) == 1
    assert await server.audits(team, "create") == 1


async def test_a_patient_taken_off_a_team_at_once_leaves_once(server: RaceServer) -> None:
    """One removal, one audit, one "left the team" fact; the copies find no membership (404,
    as one by one)."""
    world, team_id = await _team_with_patient(server)
    url = f"{TEAMS}/{team_id}/patients/{world.patient_id}"
    result = await race(server.http, "DELETE", url, headers=world.admin)
    result.no_server_errors()
    assert result.statuses == [200] + [404] * (len(result.responses) - 1), result.statuses
    team = uuid.UUID(team_id)
    left = (CareTeamPatient.team_id == team, CareTeamPatient.left_at.is_not(None))
    assert await server.count(CareTeamPatient, *left) == 1
    assert await server.audits(team, "delete") == 1


@dataclass
class OnlineCare:
    patient_id: uuid.UUID
    patient: dict[str, str]
    doctor_id: uuid.UUID
    doctor: dict[str, str]
    colleague_id: uuid.UUID
    relationship_id: uuid.UUID  # the patient's care by `doctor_id`


async def _online_care(server: RaceServer) -> OnlineCare:
    """An entitled patient in the primary care of an online doctor, with two online colleagues
    in the same hospital."""

    async def build(session: AsyncSession) -> OnlineCare:
        await builders.catalogue(session)
        patient_account, patient = await builders.patient(session, "M01603")
        hospital = await factories.institution(session)
        doctor_account, doctor = await builders.doctor(
            session, presence="online", institution=hospital
        )
        _, colleague = await builders.doctor(session, presence="online", institution=hospital)
        await builders.doctor(session, presence="online", institution=hospital)
        relationship = await factories.care(session, patient, doctor)
        load = await session.get(DoctorLoad, doctor.id)
        assert load is not None
        load.active_patients = 1
        return OnlineCare(
            patient.id,
            await factories.bearer(session, server.settings, patient_account),
            doctor.id,
            await factories.bearer(session, server.settings, doctor_account),
            colleague.id,
            relationship.id,
        )

    return await committed(server, build)


async def test_a_transfer_sent_at_once_transfers_once(server: RaceServer) -> None:
    """The receiving doctor sends the transfer to a named colleague from several devices: one
    transfer, one decision; the copies are 409 (the patient is no longer theirs to transfer)."""
    care = await _online_care(server)
    body = {
        "patient_id": str(care.patient_id),
        "to_doctor_id": str(care.colleague_id),
        "reason": "肾内科随访",
    }
    result = await race(
        server.http, "POST", "/api/v1/online-care/transfers", json=body, headers=care.doctor
    )
    result.one_winner("not_primary_doctor")
    primary = _active(
        CareRelationship.patient_id == care.patient_id, CareRelationship.kind == "primary"
    )
    async with server.sessionmaker() as session:
        doctors = list(await session.scalars(select(CareRelationship.doctor_id).where(*primary)))
    assert doctors == [care.colleague_id]
    decisions = await server.count(
        AssignmentDecision,
        AssignmentDecision.patient_id == care.patient_id,
        AssignmentDecision.purpose == "transfer",
    )
    assert decisions == 1


async def test_a_change_of_doctor_pressed_at_once_changes_once(server: RaceServer) -> None:
    """The patient presses "change doctor" on several devices at once: one change away from
    the doctor they had, not one per copy (which would walk them through the hospital); the
    copies are 409."""
    care = await _online_care(server)
    result = await race(
        server.http,
        "POST",
        "/api/v1/online-care/change-doctor",
        json={"reason": "想换一位医生", "from_relationship_id": str(care.relationship_id)},
        headers=care.patient,
    )
    result.one_winner("doctor_changed_meanwhile")
    changes = await server.count(
        AssignmentDecision,
        AssignmentDecision.patient_id == care.patient_id,
        AssignmentDecision.purpose == "change_doctor",
    )
    assert changes == 1
    ended = await server.count(
        CareRelationship,
        CareRelationship.patient_id == care.patient_id,
        CareRelationship.ended_reason == "changed_doctor",
    )
    assert ended == 1


async def test_working_hours_put_at_once_leave_one_week(server: RaceServer) -> None:
    """The doctor app saves the week twice at once (a PUT: every copy may succeed), and the
    doctor has that week once, not twice."""

    async def build(session: AsyncSession) -> tuple[uuid.UUID, dict[str, str]]:
        account = await factories.account(session, Role.doctor)
        doctor = await factories.doctor_of(session, account)
        return doctor.id, await factories.bearer(session, server.settings, account)

    doctor_id, doctor = await committed(server, build)
    week = [{"weekday": day, "starts_at": "08:00", "ends_at": "12:00"} for day in range(5)]
    result = await race(
        server.http, "PUT", "/api/v1/doctors/me/working-hours", json=week, headers=doctor
    )
    result.no_server_errors()
    assert result.statuses == [200] * len(result.responses), result.statuses
    slots = await server.count(DoctorWorkingHours, DoctorWorkingHours.doctor_id == doctor_id)
    assert slots == len(week)
