"""A patient completes their profile (PATCH, or PUT for the mini-program); identifiers are
encrypted at rest; insured identity is not a profile field (tests/identity)."""

from __future__ import annotations

import pytest
from sqlalchemy import String, select, type_coerce

from app.models import IdentityDeclaration, Patient, Role
from tests.fixtures import factories


async def _signed_in_patient(db_session, settings):
    account = await factories.account(db_session, Role.patient)
    return await factories.patient_of(db_session, account), await factories.bearer(
        db_session, settings, account
    )


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_patient_completes_profile(client, db_session, settings, method) -> None:
    """PUT is the twin of PATCH (the mini-program's wx.request has no PATCH)."""
    await factories.district(db_session, "140321")
    _, headers = await _signed_in_patient(db_session, settings)
    response = await client.request(
        method,
        "/api/v1/patients/me",
        headers=headers,
        json={
            "name": "张三",
            "phone": "13900001111",
            "district_code": "140321",
            "address": "平定县冠山镇1号",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "张三"
    assert body["phone"] == "13900001111"
    assert body["district_code"] == "140321"


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_fields_left_out_stay_as_they_are(client, db_session, settings, method) -> None:
    _, headers = await _signed_in_patient(db_session, settings)
    first = await client.request(
        method, "/api/v1/patients/me", headers=headers, json={"address": "城区南大街1号"}
    )
    assert first.status_code == 200
    second = await client.request(
        method, "/api/v1/patients/me", headers=headers, json={"name": "赵六"}
    )
    assert second.status_code == 200
    assert (second.json()["name"], second.json()["address"]) == ("赵六", "城区南大街1号")


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
async def test_the_nickname_replaces_weixin_user_and_cannot_be_cleared(
    client, db_session, settings, method
) -> None:
    _, headers = await _signed_in_patient(db_session, settings)
    named = await client.request(
        method, "/api/v1/patients/me", headers=headers, json={"display_name": "老王"}
    )
    assert named.status_code == 200, named.text
    assert (await client.get("/api/v1/auth/me", headers=headers)).json()["display_name"] == "老王"
    for cleared in (None, ""):
        refused = await client.request(
            method, "/api/v1/patients/me", headers=headers, json={"display_name": cleared}
        )
        assert (refused.status_code, refused.json()["code"]) == (422, "validation_failed")
    assert (await client.get("/api/v1/auth/me", headers=headers)).json()["display_name"] == "老王"


async def test_identifiers_are_ciphertext_in_the_database(client, db_session, settings) -> None:
    patient, headers = await _signed_in_patient(db_session, settings)
    await client.patch("/api/v1/patients/me", headers=headers, json={"phone": "13900002222"})
    declared = await client.post(
        "/api/v1/patients/me/identity/declarations",
        headers=headers,
        json={
            "national_id": "140302199001011234",
            "insurance_type": "390",
            "insured_area": "140300",
        },
    )
    assert declared.status_code == 202
    # type_coerce reads the stored value without the decrypting column type.
    phone = await db_session.scalar(
        select(type_coerce(Patient.phone, String)).where(Patient.id == patient.id)
    )
    raw = (
        await db_session.execute(
            select(
                type_coerce(IdentityDeclaration.national_id, String).label("national_id"),
                IdentityDeclaration.national_id_index,
            ).where(IdentityDeclaration.patient_id == patient.id)
        )
    ).one()
    assert "13900002222" not in phone
    assert "140302199001011234" not in raw.national_id
    assert raw.national_id_index and "140302199001011234" not in raw.national_id_index


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
    for method in ("PATCH", "PUT"):
        response = await client.request(
            method, "/api/v1/patients/me", headers=headers, json={"name": "x"}
        )
        assert response.status_code == 403
