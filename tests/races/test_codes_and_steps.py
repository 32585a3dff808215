"""Races on device codes, enrollment steps, staff reinstatement and alert acknowledgement - N
identical requests at once against a real server on PostgreSQL: one 2xx and otherwise 409
problem+json, or (where a repeat is harmless) every answer the one result, never a 500."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.models import (
    Alert,
    CareRelationship,
    Device,
    DoctorLoad,
    EnrollmentApplication,
    EnrollmentRecord,
    FollowUp,
    Role,
    SensorSession,
)
from tests.enrollment import builders
from tests.fixtures import factories
from tests.fixtures.races import RaceServer, race, race_all
from tests.races.conftest import committed, referral

pytestmark = pytest.mark.postgres

APPS = "/api/v1/enrollment/applications"
CGM = {"kind": "cgm", "model": "Dexcom G7", "sample_interval_seconds": 300}


async def _patients(server: RaceServer, n: int) -> list[tuple[uuid.UUID, dict[str, str]]]:
    async def build(session: AsyncSession) -> list[tuple[uuid.UUID, dict[str, str]]]:
        made = []
        for _ in range(n):
            account = await factories.account(session, Role.patient)
            patient = await factories.patient_of(session, account)
            made.append((patient.id, await factories.bearer(session, server.settings, account)))
        return made

    return await committed(server, build)


async def test_a_registered_serial_claimed_by_several_patients_at_once_binds_one(
    server: RaceServer,
) -> None:
    serial = f"G7-RACE-{uuid.uuid4().hex[:8]}"

    async def register(session: AsyncSession) -> dict[str, str]:
        return await factories.bearer(
            session, server.settings, await factories.account(session, Role.admin)
        )

    admin = await committed(server, register)
    body = {
        "source": "vendor",
        "devices": [
            {"kind": "cgm", "model": "Dexcom G7", "serial": serial, "pairing_code": "4827"}
        ],
    }
    registered = await server.http.post("/api/v1/device-registrations", json=body, headers=admin)
    assert registered.status_code == 200, registered.text
    patients = await _patients(server, 4)
    claim = {**CGM, "serial": serial, "pairing_code": "4827"}
    requests = [("POST", "/api/v1/devices", {"json": claim, "headers": h}) for _, h in patients]
    (await race_all(server.http, requests)).one_winner("device_already_bound")
    bound = await server.scalar(
        select(func.count())
        .select_from(Device)
        .where(Device.serial == serial, Device.patient_id.is_not(None))
    )
    assert bound == 1


@dataclass
class Draft:
    application_id: uuid.UUID
    patient: dict[str, str]


async def _draft(server: RaceServer, status: str = "draft") -> Draft:
    """An application of a fresh patient with one record, in `status`."""

    async def build(session: AsyncSession) -> Draft:
        await builders.catalogue(session)
        account, patient = await builders.patient(session)
        _, doctor = await builders.doctor(session, presence="online")
        disease = (await builders.diseases(session))["M01603"]
        application = EnrollmentApplication(
            patient_id=patient.id,
            disease_id=disease.id,
            institution_id=doctor.institution_id,
            status=status,
            submitted_at=utcnow() if status == "pending" else None,
        )
        session.add(application)
        await session.flush()
        key = uuid.uuid4().hex
        session.add(
            EnrollmentRecord(
                application_id=application.id,
                blob_key=f"enrollment/{key}",
                content_type="application/pdf",
                size_bytes=4,
                sha256=key + key[:32],
                filename="诊断证明.pdf",
            )
        )
        await session.flush()
        return Draft(application.id, await factories.bearer(session, server.settings, account))

    return await committed(server, build)


async def _status(server: RaceServer, application_id: uuid.UUID) -> str:
    return str(
        await server.scalar(
            select(EnrollmentApplication.status).where(EnrollmentApplication.id == application_id)
        )
    )


@pytest.mark.parametrize(
    ("start", "step", "status"),
    [
        ("draft", "submit", "pending"),
        ("draft", "withdraw", "withdrawn"),
        ("pending", "withdraw", "withdrawn"),
    ],
)
async def test_an_application_step_sent_at_once_moves_once(
    server: RaceServer, start: str, step: str, status: str
) -> None:
    draft = await _draft(server, start)
    url = f"{APPS}/{draft.application_id}/{step}"
    (await race(server.http, "POST", url, headers=draft.patient)).one_winner(
        "application_transition_illegal"
    )
    assert await _status(server, draft.application_id) == status
    assert await server.audits(draft.application_id, "update") == 1


async def test_identical_reinstatements_reinstate_once(server: RaceServer) -> None:
    async def build(session: AsyncSession) -> tuple[dict[str, str], str]:
        admin = await factories.account(session, Role.admin)
        courier = await factories.account(session, Role.courier)
        return await factories.bearer(session, server.settings, admin), str(courier.id)

    admin, account_id = await committed(server, build)
    suspended = await server.http.post(
        f"/api/v1/staff/{account_id}/suspend", json={"reason": "休假"}, headers=admin
    )
    assert suspended.status_code == 200, suspended.text
    result = await race(
        server.http,
        "POST",
        f"/api/v1/staff/{account_id}/reinstate",
        json={"reason": "返岗"},
        headers=admin,
    )
    result.one_winner("staff_not_suspended")
    assert await server.audits(account_id, "reinstate") == 1


async def test_an_alert_acknowledged_at_once_is_acknowledged_once(server: RaceServer) -> None:
    """Every copy answers the one acknowledgement (its time and doctor), recorded once."""

    async def build(session: AsyncSession) -> tuple[uuid.UUID, dict[str, str]]:
        patient = await factories.patient_of(
            session, await factories.account(session, Role.patient)
        )
        doctor_account = await factories.account(session, Role.doctor)
        await factories.care(session, patient, await factories.doctor_of(session, doctor_account))
        alert = Alert(
            patient_id=patient.id, rule="urgent_low", level=3, measured_at=utcnow(), value=2.8
        )
        session.add(alert)
        await session.flush()
        return alert.id, await factories.bearer(session, server.settings, doctor_account)

    alert_id, doctor = await committed(server, build)
    result = await race(
        server.http, "POST", f"/api/v1/alerts/{alert_id}/acknowledge", headers=doctor
    )
    result.all_replay(lambda body: (body["acknowledged_at"], body["acknowledged_by"]))
    assert await server.audits(alert_id, "update") == 1


async def _bound_cgm(server: RaceServer) -> tuple[str, dict[str, str]]:
    [(_, patient)] = await _patients(server, 1)
    bound = await server.http.post(
        "/api/v1/devices", json={**CGM, "serial": f"G7-{uuid.uuid4().hex[:8]}"}, headers=patient
    )
    assert bound.status_code == 201, bound.text
    return str(bound.json()["id"]), patient


async def test_a_sensor_started_at_once_runs_once(server: RaceServer) -> None:
    device_id, patient = await _bound_cgm(server)
    url = f"/api/v1/devices/{device_id}/sensor-sessions"
    result = await race(server.http, "POST", url, json={"expected_days": 14}, headers=patient)
    result.one_winner("sensor_session_running")
    running = await server.scalar(
        select(func.count())
        .select_from(SensorSession)
        .where(SensorSession.device_id == uuid.UUID(device_id))
    )
    assert running == 1


async def test_a_sensor_ended_at_once_ends_once(server: RaceServer) -> None:
    """One copy ends it; the others find no sensor running, as a repeat one by one does."""
    device_id, patient = await _bound_cgm(server)
    url = f"/api/v1/devices/{device_id}/sensor-sessions"
    started = await server.http.post(url, json={"expected_days": 14}, headers=patient)
    assert started.status_code == 201, started.text
    result = await race(server.http, "POST", f"{url}/end", headers=patient)
    result.no_server_errors()
    assert result.statuses == [200] + [404] * (len(result.responses) - 1), result.statuses
    assert {r.json()["code"] for r in result.responses if r.status_code == 404} == {
        "sensor_session_not_found"
    }
    assert await server.audits(started.json()["id"], "update") == 1


async def test_a_device_unbound_at_once_is_unbound_once(server: RaceServer) -> None:
    device_id, patient = await _bound_cgm(server)
    result = await race(server.http, "DELETE", f"/api/v1/devices/{device_id}", headers=patient)
    result.no_server_errors()
    assert result.statuses == [204] + [404] * (len(result.responses) - 1), result.statuses
    assert await server.audits(device_id, "delete") == 1


async def test_a_care_relationship_ended_at_once_ends_once(server: RaceServer) -> None:
    """The doctor's count of active patients drops by one, not by every copy."""

    async def build(session: AsyncSession) -> tuple[dict[str, str], uuid.UUID, uuid.UUID]:
        admin = await factories.account(session, Role.admin)
        patient = await factories.patient_of(
            session, await factories.account(session, Role.patient)
        )
        doctor = await factories.doctor_of(session, await factories.account(session, Role.doctor))
        relationship = await factories.care(session, patient, doctor)
        load = await session.get(DoctorLoad, doctor.id)
        if load is None:
            session.add(DoctorLoad(doctor_id=doctor.id, active_patients=3))
        else:
            load.active_patients = 3
        await session.flush()
        return await factories.bearer(session, server.settings, admin), relationship.id, doctor.id

    admin, relationship_id, doctor_id = await committed(server, build)
    result = await race(
        server.http,
        "POST",
        f"/api/v1/care/relationships/{relationship_id}/end",
        json={"reason": "patient_moved"},
        headers=admin,
    )
    result.one_winner("relationship_already_ended")
    load = select(DoctorLoad.active_patients).where(DoctorLoad.doctor_id == doctor_id)
    assert await server.scalar(load) == 2
    assert await server.audits(relationship_id, "update") == 1


async def _plan(server: RaceServer) -> tuple[dict[str, str], dict]:
    """A doctor's follow-up plan for a patient in their care, its first follow-up scheduled."""

    async def build(session: AsyncSession) -> tuple[dict[str, str], uuid.UUID]:
        patient = await factories.patient_of(
            session, await factories.account(session, Role.patient)
        )
        doctor_account = await factories.account(session, Role.doctor)
        await factories.care(session, patient, await factories.doctor_of(session, doctor_account))
        return await factories.bearer(session, server.settings, doctor_account), patient.id

    doctor, patient_id = await committed(server, build)
    body = {
        "patient_id": str(patient_id),
        "discharged_on": utcnow().date().isoformat(),
        "interval_days": 14,
        "review_items": ["糖化血红蛋白"],
    }
    made = await server.http.post("/api/v1/care/follow-up-plans", json=body, headers=doctor)
    assert made.status_code == 201, made.text
    return doctor, made.json()


@pytest.mark.parametrize("step", ["complete", "miss", "cancel"])
async def test_a_follow_up_closed_at_once_is_closed_once(server: RaceServer, step: str) -> None:
    """One copy closes it (and schedules the next one once); the rest are 409."""
    doctor, plan = await _plan(server)
    [first] = plan["follow_ups"]
    url = f"/api/v1/care/follow-ups/{first['id']}/{step}"
    result = await race(server.http, "POST", url, json={"note": "已随访"}, headers=doctor)
    result.one_winner("follow_up_transition_illegal")
    scheduled = await server.scalar(
        select(func.count())
        .select_from(FollowUp)
        .where(FollowUp.plan_id == uuid.UUID(plan["id"]), FollowUp.sequence == 2)
    )
    assert scheduled == (0 if step == "cancel" else 1)
    assert await server.audits(first["id"], "update") == 1


async def test_a_follow_up_plan_ended_at_once_ends_once(server: RaceServer) -> None:
    doctor, plan = await _plan(server)
    url = f"/api/v1/care/follow-up-plans/{plan['id']}/end"
    (await race(server.http, "POST", url, headers=doctor)).one_winner("plan_already_ended")
    assert await server.audits(plan["id"], "update") == 1


@pytest.mark.parametrize(("action", "status"), [("accept", "accepted"), ("reject", "rejected")])
async def test_a_referral_decided_at_once_is_decided_once(
    server: RaceServer, action: str, status: str
) -> None:
    """The receiving hospital's doctor presses accept (or reject) on several devices at once:
    one decision, one audit, and an acceptance grants the referral access once."""
    referred = await referral(server, accepted=False)
    referral_id, receiving = referred.referral_id, referred.receiving
    result = await race(
        server.http,
        "POST",
        f"/api/v1/care/referrals/{referral_id}/{action}",
        json={"reason": "同意接收" if action == "accept" else "床位已满"},
        headers=receiving,
    )
    result.one_winner("referral_transition_illegal")
    assert await server.audits(referral_id, "update") == 1
    accesses = await server.count(
        CareRelationship,
        CareRelationship.patient_id == referred.patient_id,
        CareRelationship.kind == "referral",
    )
    assert accesses == (1 if status == "accepted" else 0)
