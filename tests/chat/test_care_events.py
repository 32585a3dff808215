"""Care events reach chat: the assigned doctor is announced, a team's patient gets a group."""

from __future__ import annotations

from app.models import Role
from tests.assignment.helpers import headers, start
from tests.enrollment import builders
from tests.fixtures import factories


async def _conversations(client, auth) -> list[dict]:
    response = await client.get("/api/v1/chat/conversations", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_assignment_opens_the_care_conversation_with_a_notice(
    client, db_session, settings
) -> None:
    account, _ = await builders.patient(db_session, "M01603")
    hospital = await factories.institution(db_session)
    doctor_account, doctor = await builders.doctor(
        db_session, ("M01600",), presence="online", institution=hospital
    )
    patient_h = await headers(db_session, settings, account)
    await start(client, patient_h, hospital.id)
    conversations = await _conversations(client, patient_h)
    assert len(conversations) == 1
    last = conversations[0]["last_message"]
    assert last["kind"] == "notice"
    assert doctor.name in last["notice"]["text"]["zh"]
    doctor_h = await headers(db_session, settings, doctor_account)
    assert [c["id"] for c in await _conversations(client, doctor_h)] == [conversations[0]["id"]]


async def test_restarting_care_does_not_announce_twice(client, db_session, settings) -> None:
    account, _ = await builders.patient(db_session, "M01603")
    hospital = await factories.institution(db_session)
    await builders.doctor(db_session, ("M01600",), presence="online", institution=hospital)
    patient_h = await headers(db_session, settings, account)
    await start(client, patient_h, hospital.id)
    await start(client, patient_h, hospital.id)
    conversation = (await _conversations(client, patient_h))[0]
    history = await client.get(
        f"/api/v1/chat/conversations/{conversation['id']}/messages", headers=patient_h
    )
    assert len(history.json()["items"]) == 1


async def test_team_patient_gets_a_group_with_the_team(client, db_session, settings) -> None:
    hospital = await factories.institution(db_session)
    lead_account, lead = await builders.doctor(db_session, institution=hospital)
    nurse_account, nurse = await builders.doctor(db_session, institution=hospital)
    patient_account, patient = await builders.patient(db_session, "M01603")
    await factories.care(db_session, patient, lead)
    admin_h = await headers(db_session, settings, await factories.account(db_session, Role.admin))
    team = await client.post(
        "/api/v1/care/teams",
        json={
            "institution_id": str(hospital.id),
            "name": "家医一组",
            "members": [
                {"doctor_id": str(lead.id), "role": "family_doctor"},
                {"doctor_id": str(nurse.id), "role": "health_manager"},
            ],
        },
        headers=admin_h,
    )
    team_id = team.json()["id"]
    lead_h = await headers(db_session, settings, lead_account)
    await client.post(
        f"/api/v1/care/teams/{team_id}/patients",
        json={"patient_id": str(patient.id)},
        headers=lead_h,
    )
    nurse_h = await headers(db_session, settings, nurse_account)
    groups = [c for c in await _conversations(client, nurse_h) if c["kind"] == "team"]
    assert len(groups) == 1 and groups[0]["title"].startswith("家医一组")
    patient_h = await headers(db_session, settings, patient_account)
    assert groups[0]["id"] in [c["id"] for c in await _conversations(client, patient_h)]

    await client.delete(f"/api/v1/care/teams/{team_id}/patients/{patient.id}", headers=admin_h)
    assert [c for c in await _conversations(client, nurse_h) if c["kind"] == "team"] == []
    assert groups[0]["id"] in [c["id"] for c in await _conversations(client, patient_h)]


async def test_prescription_review_is_told_in_the_care_conversation(
    client, app, db_session, settings
) -> None:
    from tests.prescription.world import build, signed

    world = await build(db_session, settings, app=app)
    prescription_id = await signed(client, world)
    approved = await client.post(
        f"/api/v1/prescriptions/{prescription_id}/approve", headers=world.as_("reviewer")
    )
    assert approved.status_code == 200, approved.text
    conversation = (await _conversations(client, world.as_("patient")))[0]
    assert conversation["last_message"]["notice"]["code"] == "chat_notice_prescription_approved"
