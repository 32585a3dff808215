"""A patient completes their profile; identifiers are encrypted at rest and unique."""

from __future__ import annotations

from sqlalchemy import String, select, type_coerce

from app.models import Patient, Role
from tests.fixtures import factories


async def _signed_in_patient(db_session, settings):
    account = await factories.account(db_session, Role.patient)
    return await factories.patient_of(db_session, account), await factories.bearer(
        db_session, settings, account
    )


async def test_patient_completes_profile(client, db_session, settings) -> None:
    await factories.district(db_session, "140321")
    _, headers = await _signed_in_patient(db_session, settings)
    response = await client.patch(
        "/api/v1/patients/me",
        headers=headers,
        json={
            "name": "张三",
            "phone": "13900001111",
            "national_id": "14032119700101123X",
            "insurance_type": "390",
            "district_code": "140321",
            "address": "平定县冠山镇1号",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "张三"
    assert body["national_id"] == "14032119700101123X"
    assert body["district_code"] == "140321"


async def test_identifiers_are_ciphertext_in_the_database(client, db_session, settings) -> None:
    patient, headers = await _signed_in_patient(db_session, settings)
    await client.patch(
        "/api/v1/patients/me",
        headers=headers,
        json={"phone": "13900002222", "national_id": "140302199001011234"},
    )
    # type_coerce reads the stored value without the decrypting column type.
    raw = (
        await db_session.execute(
            select(
                type_coerce(Patient.phone, String).label("phone"),
                type_coerce(Patient.national_id, String).label("national_id"),
                Patient.national_id_index,
            ).where(Patient.id == patient.id)
        )
    ).one()
    assert "13900002222" not in raw.phone
    assert "140302199001011234" not in raw.national_id
    assert raw.national_id_index and "140302199001011234" not in raw.national_id_index


async def test_national_id_of_another_patient_is_409(client, db_session, settings) -> None:
    _, first = await _signed_in_patient(db_session, settings)
    _, second = await _signed_in_patient(db_session, settings)
    body = {"national_id": "140302198505051234"}
    assert (await client.patch("/api/v1/patients/me", headers=first, json=body)).status_code == 200
    conflict = await client.patch("/api/v1/patients/me", headers=second, json=body)
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "national_id_taken"


async def test_malformed_profile_is_422_and_changes_nothing(client, db_session, settings) -> None:
    patient, headers = await _signed_in_patient(db_session, settings)
    before = patient.name
    response = await client.patch(
        "/api/v1/patients/me", headers=headers, json={"name": "李四", "phone": "12345"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert response.json()["errors"][0]["loc"] == ["body", "phone"]
    await db_session.refresh(patient)
    assert patient.name == before


async def test_unknown_district_is_404_and_changes_nothing(client, db_session, settings) -> None:
    patient, headers = await _signed_in_patient(db_session, settings)
    response = await client.patch(
        "/api/v1/patients/me", headers=headers, json={"name": "王五", "district_code": "999999"}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "district_not_found"
    await db_session.refresh(patient)
    assert patient.name != "王五"


async def test_unknown_fields_are_refused(client, db_session, settings) -> None:
    _, headers = await _signed_in_patient(db_session, settings)
    response = await client.patch("/api/v1/patients/me", headers=headers, json={"account_id": "x"})
    assert response.status_code == 422


async def test_staff_cannot_use_patient_self_endpoints(client, db_session, settings) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    headers = await factories.bearer(db_session, settings, doctor)
    assert (await client.get("/api/v1/patients/me", headers=headers)).status_code == 403
    assert (
        await client.patch("/api/v1/patients/me", headers=headers, json={"name": "x"})
    ).status_code == 403
