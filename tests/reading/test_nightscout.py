"""Nightscout-compatible uploads with per-patient secrets."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update

from app.kit.clock import utcnow
from app.models import NightscoutCredential, Reading
from app.nightscout.service import ROTATION_SETTLE
from tests.nightscout.helpers import sgv_entry
from tests.reading.helpers import wearer


async def _secret(client, headers) -> dict:
    response = await client.post("/api/v1/nightscout/credential", headers=headers)
    assert response.status_code == 201
    return response.json()


async def test_uploader_posts_entries_with_the_sha1_secret(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    secret = await _secret(client, who.headers)
    assert secret["api_secret_sha1"] == hashlib.sha1(secret["secret"].encode()).hexdigest()
    entries = [sgv_entry(10, 120), sgv_entry(5, 39), sgv_entry(3, 5), {"type": "cal", "date": 1}]
    response = await client.post(
        "/api/v1/entries", json=entries, headers={"api-secret": secret["api_secret_sha1"]}
    )
    assert response.status_code == 200
    assert response.json() == entries[:2]
    assert (
        response.headers["X-Readings-Accepted"],
        response.headers["X-Readings-Rejected"],
    ) == ("2", "2")
    rows = list(
        await db_session.scalars(
            select(Reading)
            .where(Reading.patient_id == who.patient.id)
            .order_by(Reading.measured_at)
        )
    )
    assert [(r.value, r.flag, r.source) for r in rows] == [
        (120, None, "nightscout"),
        (40, "low", "nightscout"),
    ]
    again = await client.post(
        "/api/v1/entries", json=entries, headers={"api-secret": secret["secret"]}
    )
    assert again.headers["X-Readings-Duplicate"] == "2"


async def test_token_and_recent_entries(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    secret = await _secret(client, who.headers)
    await client.post(
        f"/api/v1/entries?token={secret['secret']}", json=[sgv_entry(6, 101), sgv_entry(1, 99)]
    )
    recent = await client.get(f"/api/v1/entries.json?token={secret['secret']}&count=1")
    assert [(e["type"], e["sgv"]) for e in recent.json()] == [("sgv", 99)]
    both = await client.get("/api/v1/entries", headers={"api-secret": secret["api_secret_sha1"]})
    assert [e["sgv"] for e in both.json()] == [99, 101]


async def test_wrong_or_rotated_secrets_are_refused(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    old = await _secret(client, who.headers)
    # A second press right away is refused and changes nothing: the secret shown still works.
    again = await client.post("/api/v1/nightscout/credential", headers=who.headers)
    assert (again.status_code, again.json()["code"]) == (409, "nightscout_credential_changed")
    kept = await client.get("/api/v1/verifyauth", headers={"api-secret": old["api_secret_sha1"]})
    assert kept.json()["message"]["message"] == "OK"
    await db_session.execute(  # the patient rotates it later
        update(NightscoutCredential)
        .where(NightscoutCredential.patient_id == who.patient.id)
        .values(rotated_at=utcnow() - ROTATION_SETTLE)
    )
    new = await _secret(client, who.headers)
    assert old["device_id"] == new["device_id"]
    for secret in (old["api_secret_sha1"], "0" * 40, None):
        headers = {"api-secret": secret} if secret else {}
        response = await client.post("/api/v1/entries", json=[sgv_entry(1, 100)], headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "nightscout_unauthorized")
    ok = await client.post(
        "/api/v1/entries", json=[sgv_entry(1, 100)], headers={"api-secret": new["api_secret_sha1"]}
    )
    assert ok.status_code == 200
    status = (await client.get("/api/v1/nightscout/credential", headers=who.headers)).json()
    assert status["configured"] is True
    assert (
        await client.delete("/api/v1/nightscout/credential", headers=who.headers)
    ).status_code == 204
    gone = await client.post(
        "/api/v1/entries", json=[sgv_entry(1, 100)], headers={"api-secret": new["api_secret_sha1"]}
    )
    assert gone.status_code == 401
