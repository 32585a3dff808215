"""The mini-program's `wx.request` sends only GET, POST, PUT, DELETE, HEAD, OPTIONS, TRACE and
CONNECT: every write the API offers as PATCH is reachable as PUT too, with the same body and
the same effect (omitted fields stay as they are)."""

from __future__ import annotations

import pytest

from app.main import create_app
from app.models import Role
from tests.fixtures import factories
from tests.reference.test_reference_data import DRUG

WX_REQUEST_METHODS = {"get", "post", "put", "delete", "head", "options", "trace", "connect"}


def test_every_operation_is_reachable_with_a_method_wx_request_sends() -> None:
    paths = create_app().openapi()["paths"]
    unreachable = [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if method not in WX_REQUEST_METHODS and "put" not in operations
    ]
    assert unreachable == []


async def _as(db_session, settings, role: Role):
    account = await factories.account(db_session, role)
    return account, await factories.bearer(db_session, settings, account)


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_the_patient_corrects_the_profile_by_put_or_patch(
    client, db_session, settings, method: str
) -> None:
    account, headers = await _as(db_session, settings, Role.patient)
    await factories.patient_of(db_session, account)
    response = await client.request(
        method, "/api/v1/patients/me", headers=headers, json={"name": "王秀英"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "王秀英"
    assert (await client.get("/api/v1/patients/me", headers=headers)).json()["name"] == "王秀英"


async def test_an_admin_changes_a_drug_price_by_put_and_other_fields_stay(
    client, db_session, settings
) -> None:
    _, admin = await _as(db_session, settings, Role.admin)
    drug = await client.post("/api/v1/drugs", headers=admin, json=DRUG)
    assert drug.status_code == 201, drug.text
    changed = await client.put(
        f"/api/v1/drugs/{drug.json()['id']}", headers=admin, json={"price_fen": 2100}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["price_fen"] == 2100
    assert changed.json()["product_name_zh"] == "格华止"


async def test_an_admin_changes_a_doctor_by_put(client, db_session, settings) -> None:
    doctor_account = await factories.account(db_session, Role.doctor)
    doctor = await factories.doctor_of(db_session, doctor_account)
    _, admin = await _as(db_session, settings, Role.admin)
    response = await client.put(
        f"/api/v1/doctors/{doctor.id}", headers=admin, json={"max_active_patients": 120}
    )
    assert response.status_code == 200, response.text
    assert response.json()["max_active_patients"] == 120


@pytest.mark.parametrize("role", [Role.patient, Role.doctor, Role.pharmacist, Role.bureau])
async def test_put_twins_keep_the_admin_only_rule(client, db_session, settings, role) -> None:
    doctor = await factories.doctor_of(db_session, await factories.account(db_session, Role.doctor))
    _, headers = await _as(db_session, settings, role)
    response = await client.put(
        f"/api/v1/doctors/{doctor.id}", headers=headers, json={"max_active_patients": 1}
    )
    assert response.status_code == 403


def _is_file_media(media_type: str) -> bool:
    return not (
        media_type == "application/x-www-form-urlencoded"
        or media_type.endswith("json")
        or media_type == "multipart/form-data"
    )


def test_every_file_upload_is_reachable_with_wx_upload_file() -> None:
    # wx.uploadFile sends a file only as a part (`file` here) of multipart/form-data.
    paths = create_app().openapi()["paths"]
    uploads = {
        (method.upper(), path): operation["requestBody"]["content"]
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "multipart/form-data" in operation.get("requestBody", {}).get("content", {})
        or any(map(_is_file_media, operation.get("requestBody", {}).get("content", {})))
    }
    assert {
        ("POST", "/api/v1/ecg-strips"),
        ("POST", "/api/v1/patients/{patient_id}/readings/import"),
        ("POST", "/api/v1/chat/conversations/{conversation_id}/attachments"),
        ("POST", "/api/v1/enrollment/applications/{application_id}/records"),
    } <= set(uploads)
    unreachable = [
        key
        for key, content in uploads.items()
        if "file"
        not in content.get("multipart/form-data", {}).get("schema", {}).get("properties", {})
    ]
    assert unreachable == []
