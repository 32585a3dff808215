"""A patient cannot set their insured identity through the profile (PATCH or its PUT twin):
identity fields are refused, never silently dropped, and nothing changes."""

from __future__ import annotations

import pytest

from app.models import Role
from tests.fixtures import factories

IDENTITY_FIELDS = {
    "national_id": "140302198505051234",
    "insurance_type": "310",
    "insured_area": "140300",
    "personal_account": True,
    "personal_account_balance_fen": 100_000,
}


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize("field", sorted(IDENTITY_FIELDS))
async def test_an_identity_field_in_a_profile_edit_is_refused(
    client, db_session, settings, method, field
) -> None:
    account = await factories.account(db_session, Role.patient)
    patient = await factories.patient_of(db_session, account)
    patient.insurance_type = "390"
    await db_session.flush()
    headers = await factories.bearer(db_session, settings, account)
    response = await client.request(
        method,
        "/api/v1/patients/me",
        headers=headers,
        json={"name": "钱七", field: IDENTITY_FIELDS[field]},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errors"] == [
        {"loc": ["body", field], "type": "extra_forbidden", "msg": body["errors"][0]["msg"]}
    ]
    await db_session.refresh(patient)
    assert patient.insurance_type == "390" and patient.national_id is None
    assert patient.name != "钱七"


async def test_the_profile_schema_has_no_identity_fields(client) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["PatientUpdate"]
    assert set(schema["properties"]).isdisjoint(IDENTITY_FIELDS)
    assert schema.get("additionalProperties") is False
