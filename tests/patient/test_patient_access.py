"""Who sees which patient: oneself, or a doctor in active care; everyone else gets 404."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.models import AuditEvent, Role
from tests.fixtures import factories


async def _patient(db_session, settings):
    account = await factories.account(db_session, Role.patient)
    patient = await factories.patient_of(db_session, account)
    patient.phone = "13812341234"
    patient.national_id = "140302198001011234"
    await db_session.flush()
    return account, patient, await factories.bearer(db_session, settings, account)


async def _doctor(db_session, settings):
    account = await factories.account(db_session, Role.doctor)
    doctor = await factories.doctor_of(db_session, account)
    return account, doctor, await factories.bearer(db_session, settings, account)


async def test_patient_sees_own_profile_in_full(client, db_session, settings) -> None:
    _, patient, headers = await _patient(db_session, settings)
    body = (await client.get("/api/v1/patients/me", headers=headers)).json()
    assert body["id"] == str(patient.id)
    assert body["phone"] == "13812341234"
    assert body["national_id"] == "140302198001011234"


async def test_patient_cannot_see_another_patient(client, db_session, settings) -> None:
    _, _, headers = await _patient(db_session, settings)
    _, other, _ = await _patient(db_session, settings)
    response = await client.get(f"/api/v1/patients/{other.id}", headers=headers)
    assert response.status_code == 404


async def test_doctor_in_active_care_sees_masked_identifiers(client, db_session, settings) -> None:
    _, patient, _ = await _patient(db_session, settings)
    _, doctor, headers = await _doctor(db_session, settings)
    await factories.care(db_session, patient, doctor)
    response = await client.get(f"/api/v1/patients/{patient.id}", headers=headers)
    assert response.status_code == 200
    assert response.json()["phone"] == "138****1234"
    assert response.json()["national_id"] == "140302********1234"


async def test_doctor_without_care_gets_404(client, db_session, settings) -> None:
    _, patient, _ = await _patient(db_session, settings)
    _, _, headers = await _doctor(db_session, settings)
    assert (await client.get(f"/api/v1/patients/{patient.id}", headers=headers)).status_code == 404


async def test_doctor_after_care_ended_gets_404(client, db_session, settings) -> None:
    _, patient, _ = await _patient(db_session, settings)
    _, doctor, headers = await _doctor(db_session, settings)
    await factories.care(db_session, patient, doctor, ended=True)
    assert (await client.get(f"/api/v1/patients/{patient.id}", headers=headers)).status_code == 404


async def test_unknown_and_out_of_scope_ids_answer_alike(client, db_session, settings) -> None:
    _, patient, _ = await _patient(db_session, settings)
    _, _, headers = await _doctor(db_session, settings)
    hidden = await client.get(f"/api/v1/patients/{patient.id}", headers=headers)
    missing = await client.get(f"/api/v1/patients/{uuid.uuid4()}", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["code"] == missing.json()["code"]


async def test_doctor_list_holds_only_their_patients(client, db_session, settings) -> None:
    _, mine, _ = await _patient(db_session, settings)
    _, not_mine, _ = await _patient(db_session, settings)
    _, doctor, headers = await _doctor(db_session, settings)
    await factories.care(db_session, mine, doctor)
    ids = [p["id"] for p in (await client.get("/api/v1/patients", headers=headers)).json()["items"]]
    assert ids == [str(mine.id)]
    assert str(not_mine.id) not in ids


async def test_staff_outside_care_see_no_patients(client, db_session, settings) -> None:
    await _patient(db_session, settings)
    for role in (Role.pharmacist, Role.courier, Role.bureau, Role.admin):
        account = await factories.account(db_session, role)
        headers = await factories.bearer(db_session, settings, account)
        response = await client.get("/api/v1/patients", headers=headers)
        assert response.status_code == 403, role


async def test_every_patient_read_is_audited(client, db_session, settings) -> None:
    _, patient, _ = await _patient(db_session, settings)
    doctor_account, doctor, headers = await _doctor(db_session, settings)
    await factories.care(db_session, patient, doctor)
    await client.get(f"/api/v1/patients/{patient.id}", headers=headers)
    await client.get("/api/v1/patients", headers=headers)
    events = (
        await db_session.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient.id))
    ).all()
    assert len(events) == 2
    assert {e.actor_account_id for e in events} == {doctor_account.id}
    assert all(e.action == "read" and e.request_id for e in events)


async def test_refused_reads_leave_no_audit_of_access(client, db_session, settings) -> None:
    _, patient, _ = await _patient(db_session, settings)
    _, _, headers = await _doctor(db_session, settings)
    await client.get(f"/api/v1/patients/{patient.id}", headers=headers)
    count = await db_session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.patient_id == patient.id)
    )
    assert count == 0


async def test_patient_lists_who_accessed_their_records(client, db_session, settings) -> None:
    _, patient, patient_headers = await _patient(db_session, settings)
    doctor_account, doctor, doctor_headers = await _doctor(db_session, settings)
    await factories.care(db_session, patient, doctor)
    await client.get(f"/api/v1/patients/{patient.id}", headers=doctor_headers)
    log = (await client.get("/api/v1/patients/me/access-log", headers=patient_headers)).json()
    assert log["items"][0]["actor_account_id"] == str(doctor_account.id)
    assert log["items"][0]["actor_role"] == "doctor"
    assert log["items"][0]["occurred_at"].endswith("+08:00")


async def test_doctor_cannot_read_a_patients_access_log(client, db_session, settings) -> None:
    _, _, headers = await _doctor(db_session, settings)
    response = await client.get("/api/v1/patients/me/access-log", headers=headers)
    assert response.status_code == 403
