"""Values PostgreSQL refuses to hold (a NUL character in text) are the client's to fix: 422
problem+json, nothing stored. (SQLite stores NUL as any other character.)"""

from __future__ import annotations

import pytest

from app.models import AuditEvent, Device, Patient
from tests.hostile.conftest import row_counts

pytestmark = pytest.mark.postgres


def _refused(response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "value_not_storable"


async def test_a_nul_character_in_a_body_is_422_and_stores_nothing(
    client, db_session, patient_headers
) -> None:
    before = await row_counts(db_session, Device, Patient, AuditEvent)
    device = {"kind": "cgm", "model": "Dexcom G7", "serial": "SN\u00001"}
    _refused(await client.post("/api/v1/devices", json=device, headers=patient_headers))
    _refused(
        await client.patch(
            "/api/v1/patients/me", json={"name": "李\u0000四"}, headers=patient_headers
        )
    )
    assert await row_counts(db_session, Device, Patient, AuditEvent) == before


async def test_a_nul_character_in_a_search_is_422(client, patient_headers) -> None:
    _refused(await client.get("/api/v1/drugs?q=met%00formin", headers=patient_headers))


async def test_a_nul_character_in_a_sign_in_is_422(client) -> None:
    response = await client.post(
        "/api/v1/auth/password-login", json={"username": "admin\u0000", "password": "x"}
    )
    _refused(response)
