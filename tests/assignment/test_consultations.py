"""The consultation queue: urgent first then waiting time, honest estimates, hand-overs."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from app.alert.urgency import Urgency
from app.assignment import consultations, engine
from app.kit.clock import utcnow
from app.models import CareRelationship, ConsultationRequest, DoctorPresence
from tests.assignment.helpers import headers
from tests.enrollment import builders

CONSULT = "/api/v1/consultations"


async def _ask(client, h, key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(CONSULT, json={"reason": "sugar high"}, headers={**h, **extra})


async def test_queue_is_urgent_first_then_by_waiting_time(
    client, db_session, settings, monkeypatch
):
    doctor_account, _doctor = await builders.doctor(db_session, presence="online")
    levels: dict[uuid.UUID, int] = {}

    async def by_level(session, patient_ids):
        return {p: Urgency(levels.get(p, 0), 0, ()) for p in patient_ids}

    monkeypatch.setattr(engine, "urgency_by_patient", by_level)
    monkeypatch.setattr(consultations, "urgency_by_patient", by_level)
    order = []
    for level in (0, 0, 3, 1):
        account, patient = await builders.patient(db_session, "M01603")
        levels[patient.id] = level
        response = await _ask(client, await headers(db_session, settings, account))
        assert response.status_code == 201, response.text
        order.append((level, response.json()["id"]))
    queue = (
        await client.get(
            f"{CONSULT}/queue", headers=await headers(db_session, settings, doctor_account)
        )
    ).json()["items"]
    expected = [order[2][1], order[3][1], order[0][1], order[1][1]]
    assert [q["id"] for q in queue] == expected
    assert [q["position"] for q in queue] == [1, 2, 3, 4]


async def test_the_estimate_is_the_assumed_length_until_measured(client, db_session, settings):
    await builders.doctor(db_session, presence="online")
    waits = []
    for _ in range(3):
        account, _ = await builders.patient(db_session, "M01603")
        body = (await _ask(client, await headers(db_session, settings, account))).json()
        waits.append((body["position"], body["estimated_wait_seconds"], body["estimate_basis"]))
    minutes = settings.consultation_default_minutes
    assert waits == [(i + 1, round(i * minutes * 60), "assumed") for i in range(3)]


async def test_the_estimate_uses_the_doctors_measured_consultations(client, db_session, settings):
    _, doctor = await builders.doctor(db_session, presence="online")
    now = utcnow()
    for _ in range(5):
        _, past_patient = await builders.patient(db_session)
        db_session.add(
            ConsultationRequest(
                patient_id=past_patient.id,
                doctor_id=doctor.id,
                status="completed",
                decision_id=(await _decision(db_session, past_patient.id, doctor.id)).id,
                requested_at=now - timedelta(hours=2),
                started_at=now - timedelta(hours=1, minutes=20),
                ended_at=now - timedelta(hours=1),
            )
        )
    await db_session.flush()
    bodies = []
    for _ in range(2):
        account, _ = await builders.patient(db_session, "M01603")
        bodies.append((await _ask(client, await headers(db_session, settings, account))).json())
    assert bodies[1]["estimate_basis"] == "measured" and bodies[1]["estimate_samples"] == 5
    assert bodies[1]["estimated_wait_seconds"] == 20 * 60


async def _decision(db_session, patient_id, doctor_id):
    from app.models import AssignmentDecision

    row = AssignmentDecision(
        patient_id=patient_id,
        purpose="consultation",
        doctor_id=doctor_id,
        urgency_level=0,
        total_score=0.0,
        candidates_considered=1,
        breakdown={},
        decided_at=utcnow(),
    )
    db_session.add(row)
    await db_session.flush()
    return row


async def test_no_number_is_promised_while_the_doctor_is_offline(client, db_session, settings):
    _, patient = await builders.patient(db_session, "M01603")
    account = await _account_of(db_session, patient)
    _, doctor = await builders.doctor(db_session)  # never online
    from tests.fixtures import factories

    await factories.care(db_session, patient, doctor)
    body = (await _ask(client, await headers(db_session, settings, account))).json()
    assert body["doctor_id"] == str(doctor.id)  # nobody online: waits for their own doctor
    assert body["doctor_presence"] == "offline" and body["estimated_wait_seconds"] is None


async def _account_of(db_session, patient):
    from app.models import Account

    return await db_session.get(Account, patient.account_id)


async def test_a_doctor_going_offline_hands_waiting_patients_on(client, app, db_session, settings):
    _, first = await builders.doctor(db_session, presence="online")
    account, patient = await builders.patient(db_session, "M01603")
    h = await headers(db_session, settings, account)
    asked = (await _ask(client, h)).json()
    assert asked["doctor_id"] == str(first.id)
    _, second = await builders.doctor(db_session, presence="online")
    await db_session.execute(
        update(DoctorPresence)
        .where(DoctorPresence.doctor_id == first.id)
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await db_session.flush()
    # The patient's next look at the queue hands them on from the silent doctor.
    moved = (await client.get(f"{CONSULT}/{asked['id']}", headers=h)).json()
    assert moved["doctor_id"] == str(second.id)
    assert moved["handoffs"] == 1
    assert moved["requested_at"] == asked["requested_at"]
    access = (
        await db_session.scalars(
            select(CareRelationship.doctor_id).where(
                CareRelationship.patient_id == patient.id,
                CareRelationship.kind == "consult",
                CareRelationship.ended_at.is_(None),
            )
        )
    ).all()
    assert access == [second.id]


async def test_asking_again_while_waiting_is_refused_but_a_retry_is_replayed(
    client, db_session, settings
):
    await builders.doctor(db_session, presence="online")
    account, _ = await builders.patient(db_session, "M01603")
    h = await headers(db_session, settings, account)
    first = await _ask(client, h, key="abc")
    replay = await _ask(client, h, key="abc")
    again = await _ask(client, h)
    assert replay.json()["id"] == first.json()["id"]
    assert again.status_code == 409 and again.json()["code"] == "consultation_open"


async def test_consultation_transitions_and_refusals(client, db_session, settings):
    doctor_account, _ = await builders.doctor(db_session, presence="online")
    account, _ = await builders.patient(db_session, "M01603")
    patient_h = await headers(db_session, settings, account)
    doctor_h = await headers(db_session, settings, doctor_account)
    request_id = (await _ask(client, patient_h)).json()["id"]
    assert (
        await client.post(f"{CONSULT}/{request_id}/start", headers=patient_h)
    ).status_code == 403
    assert (
        await client.post(f"{CONSULT}/{request_id}/complete", headers=doctor_h)
    ).status_code == 409
    started = await client.post(f"{CONSULT}/{request_id}/start", headers=doctor_h)
    assert started.json()["status"] == "in_consultation" and started.json()["position"] is None
    done = await client.post(f"{CONSULT}/{request_id}/complete", headers=doctor_h)
    assert done.json()["status"] == "completed"
    cancel = await client.post(f"{CONSULT}/{request_id}/cancel", headers=patient_h)
    assert cancel.status_code == 409 and cancel.json()["code"] == "consultation_transition_illegal"
