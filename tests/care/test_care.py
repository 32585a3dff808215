"""Family-doctor teams, follow-up plans and reminders, up/down referrals."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from app.care import follow_ups as follow_up_service
from app.kit.clock import city_date, utcnow
from app.models import CareTeam, CareTeamMember, FollowUp, OutboxMessage, Role
from tests.enrollment import builders
from tests.fixtures import factories


async def _h(db_session, settings, account):
    return await factories.bearer(db_session, settings, account)


async def test_every_team_member_sees_the_teams_patients(client, db_session, settings):
    hospital = await factories.institution(db_session)
    lead_account, lead = await builders.doctor(db_session, institution=hospital)
    nurse_account, nurse = await builders.doctor(db_session, institution=hospital)
    outsider_account, _ = await builders.doctor(db_session, institution=hospital)
    _, patient = await builders.patient(db_session, "M01603")
    await factories.care(db_session, patient, lead)
    admin_h = await _h(db_session, settings, await factories.account(db_session, Role.admin))
    team = await client.post(
        "/api/v1/care/teams",
        json={
            "institution_id": str(hospital.id),
            "name": "一组",
            "members": [
                {"doctor_id": str(lead.id), "role": "family_doctor"},
                {"doctor_id": str(nurse.id), "role": "health_manager"},
            ],
        },
        headers=admin_h,
    )
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    assert set(team.json()["member_account_ids"]) == {str(lead_account.id), str(nurse_account.id)}
    nurse_h = await _h(db_session, settings, nurse_account)
    assert (await client.get(f"/api/v1/patients/{patient.id}", headers=nurse_h)).status_code == 404
    added = await client.post(
        f"/api/v1/care/teams/{team_id}/patients",
        json={"patient_id": str(patient.id)},
        headers=await _h(db_session, settings, lead_account),
    )
    assert added.status_code == 200, added.text
    assert (await client.get(f"/api/v1/patients/{patient.id}", headers=nurse_h)).status_code == 200
    outsider_h = await _h(db_session, settings, outsider_account)
    assert (
        await client.get(f"/api/v1/care/teams/{team_id}", headers=outsider_h)
    ).status_code == 404
    removed = await client.delete(
        f"/api/v1/care/teams/{team_id}/patients/{patient.id}", headers=admin_h
    )
    assert removed.status_code == 200
    assert (await client.get(f"/api/v1/patients/{patient.id}", headers=nurse_h)).status_code == 404


async def test_a_team_has_exactly_one_family_doctor(client, db_session, settings):
    hospital = await factories.institution(db_session)
    _, a = await builders.doctor(db_session, institution=hospital)
    admin_h = await _h(db_session, settings, await factories.account(db_session, Role.admin))
    response = await client.post(
        "/api/v1/care/teams",
        json={
            "institution_id": str(hospital.id),
            "name": "x",
            "members": [{"doctor_id": str(a.id), "role": "specialist"}],
        },
        headers=admin_h,
    )
    assert response.status_code == 409 and response.json()["code"] == "team_needs_family_doctor"
    assert (await db_session.scalars(select(CareTeamMember))).all() == []


async def test_a_second_team_of_one_name_in_an_institution_is_409(client, db_session, settings):
    """A team is known by its name in its institution: the same name again is refused and
    makes nothing; another institution may use it."""
    hospital, other = (
        await factories.institution(db_session),
        await factories.institution(db_session),
    )
    _, lead = await builders.doctor(db_session, institution=hospital)
    _, elsewhere = await builders.doctor(db_session, institution=other)
    admin_h = await _h(db_session, settings, await factories.account(db_session, Role.admin))

    async def form(institution_id, doctor_id):  # type: ignore[no-untyped-def]
        body = {
            "institution_id": str(institution_id),
            "name": "家医一组",
            "members": [{"doctor_id": str(doctor_id), "role": "family_doctor"}],
        }
        return await client.post("/api/v1/care/teams", json=body, headers=admin_h)

    assert (await form(hospital.id, lead.id)).status_code == 201
    again = await form(hospital.id, lead.id)
    assert again.status_code == 409 and again.json()["code"] == "team_name_taken"
    assert (await form(other.id, elsewhere.id)).status_code == 201
    teams = await db_session.scalars(select(CareTeam).where(CareTeam.name == "家医一组"))
    assert sorted(str(t.institution_id) for t in teams) == sorted([str(hospital.id), str(other.id)])


async def _plan(client, db_session, settings, **overrides):
    doctor_account, doctor = await builders.doctor(db_session)
    patient_account, patient = await builders.patient(db_session, "M01603")
    await factories.care(db_session, patient, doctor)
    doctor_h = await _h(db_session, settings, doctor_account)
    body = {
        "patient_id": str(patient.id),
        "discharged_on": (city_date() - timedelta(days=20)).isoformat(),
        "interval_days": 14,
        "review_items": ["HbA1c", "foot exam"],
        **overrides,
    }
    plan = await client.post("/api/v1/care/follow-up-plans", json=body, headers=doctor_h)
    assert plan.status_code == 201, plan.text
    return plan.json(), doctor_h, patient_account


async def test_follow_ups_are_due_then_overdue_and_completing_one_schedules_the_next(
    client, db_session, settings
):
    plan, doctor_h, _ = await _plan(client, db_session, settings)
    first = plan["follow_ups"][0]
    assert first["overdue"] is True  # discharged 20 days ago, due after 14
    overdue = (
        await client.get("/api/v1/care/follow-ups", params={"state": "overdue"}, headers=doctor_h)
    ).json()["items"]
    assert [f["id"] for f in overdue] == [first["id"]]
    done = await client.post(
        f"/api/v1/care/follow-ups/{first['id']}/complete",
        json={"note": "HbA1c 7.1%"},
        headers=doctor_h,
    )
    closed, following = done.json()
    assert closed["status"] == "completed" and following["sequence"] == 2
    due = (
        await client.get(
            "/api/v1/care/follow-ups", params={"state": "due", "within_days": 14}, headers=doctor_h
        )
    ).json()["items"]
    assert [f["id"] for f in due] == [following["id"]]
    again = await client.post(
        f"/api/v1/care/follow-ups/{first['id']}/miss", json={}, headers=doctor_h
    )
    assert again.status_code == 409 and again.json()["code"] == "follow_up_transition_illegal"


async def test_an_ended_plan_cancels_what_is_scheduled_and_schedules_no_more(
    client, db_session, settings
):
    plan, doctor_h, _ = await _plan(client, db_session, settings)
    ended = (
        await client.post(f"/api/v1/care/follow-up-plans/{plan['id']}/end", headers=doctor_h)
    ).json()
    assert ended["status"] == "ended"
    assert [f["status"] for f in ended["follow_ups"]] == ["cancelled"]
    twice = await client.post(f"/api/v1/care/follow-up-plans/{plan['id']}/end", headers=doctor_h)
    assert twice.status_code == 409


async def test_reminders_are_enqueued_once_per_follow_up(client, db_session, settings):
    plan, _, _ = await _plan(client, db_session, settings)
    follow_up_id = plan["follow_ups"][0]["id"]
    await db_session.execute(
        update(FollowUp)
        .values(due_at=utcnow() + timedelta(hours=3))
        .where(FollowUp.plan_id == uuid.UUID(plan["id"]))
    )
    lead = timedelta(hours=24)
    assert await follow_up_service.enqueue_due_reminders(db_session, lead) >= 1
    assert await follow_up_service.enqueue_due_reminders(db_session, lead) == 0
    message = await db_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"follow-up-reminder:{follow_up_id}"
        )
    )
    assert message is not None and message.payload["template"] == "follow_up_reminder"


async def _referral_world(db_session, settings, *, family: bool):
    community = await factories.institution(db_session, level="secondary")
    city_hospital = await factories.institution(db_session, level="tertiary")
    gp_account, gp = await builders.doctor(db_session, institution=community)
    specialist_account, _ = await builders.doctor(db_session, institution=city_hospital)
    _, patient = await builders.patient(db_session, "M01603")
    await factories.care(db_session, patient, gp)
    if family:
        from app.models import CareTeam, CareTeamPatient

        team = CareTeam(institution_id=community.id, name="t")
        db_session.add(team)
        await db_session.flush()
        db_session.add_all(
            [
                CareTeamMember(team_id=team.id, doctor_id=gp.id, role="family_doctor"),
                CareTeamPatient(team_id=team.id, patient_id=patient.id, joined_at=utcnow()),
            ]
        )
        await db_session.flush()
    return (
        patient,
        city_hospital,
        community,
        await _h(db_session, settings, gp_account),
        await _h(db_session, settings, specialist_account),
    )


async def test_an_up_referral_is_accepted_and_completed(client, db_session, settings):
    patient, city_hospital, _, gp_h, specialist_h = await _referral_world(
        db_session, settings, family=True
    )
    created = await client.post(
        "/api/v1/care/referrals",
        json={
            "patient_id": str(patient.id),
            "direction": "up",
            "to_institution_id": str(city_hospital.id),
            "reason": "diabetic foot",
        },
        headers=gp_h,
    )
    assert created.status_code == 201, created.text
    referral = created.json()
    assert referral["priority"] == "priority" and referral["status"] == "requested"
    assert (
        await client.get(f"/api/v1/patients/{patient.id}", headers=specialist_h)
    ).status_code == 404
    accepted = await client.post(
        f"/api/v1/care/referrals/{referral['id']}/accept", json={}, headers=specialist_h
    )
    assert accepted.json()["status"] == "accepted"
    assert (
        await client.get(f"/api/v1/patients/{patient.id}", headers=specialist_h)
    ).status_code == 200
    rejected = await client.post(
        f"/api/v1/care/referrals/{referral['id']}/reject", json={}, headers=specialist_h
    )
    assert rejected.status_code == 409 and rejected.json()["code"] == "referral_transition_illegal"
    completed = await client.post(
        f"/api/v1/care/referrals/{referral['id']}/complete", json={}, headers=specialist_h
    )
    assert completed.json()["status"] == "completed"
    assert (
        await client.get(f"/api/v1/patients/{patient.id}", headers=specialist_h)
    ).status_code == 404


async def test_referrals_by_other_doctors_are_normal_priority_and_directions_are_checked(
    client, db_session, settings
):
    patient, city_hospital, community, gp_h, _ = await _referral_world(
        db_session, settings, family=False
    )
    wrong = await client.post(
        "/api/v1/care/referrals",
        json={
            "patient_id": str(patient.id),
            "direction": "down",
            "to_institution_id": str(city_hospital.id),
            "reason": "x",
        },
        headers=gp_h,
    )
    assert wrong.status_code == 409 and wrong.json()["code"] == "referral_direction_mismatch"
    right = await client.post(
        "/api/v1/care/referrals",
        json={
            "patient_id": str(patient.id),
            "direction": "up",
            "to_institution_id": str(city_hospital.id),
            "reason": "x",
        },
        headers=gp_h,
    )
    assert right.json()["priority"] == "normal"
    assert community.level == "secondary"
