"""The Nightscout API as uploaders and readers call it: entries.json, one object or an array,
the trend arrow and raw values kept, `find[...]`/`count`, current, status, verifyauth, and
treatments/devicestatus accepted (never 404)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from app.kit.clock import utcnow
from app.models import Reading
from tests.nightscout.helpers import sgv_entry
from tests.reading.helpers import wearer


async def _secret(client, db_session, settings) -> tuple[object, dict[str, str]]:
    who = await wearer(db_session, settings)
    secret = (await client.post("/api/v1/nightscout/credential", headers=who.headers)).json()
    return who, {"api-secret": hashlib.sha1(secret["secret"].encode()).hexdigest()}


async def test_entries_json_takes_an_array_or_one_object(client, db_session, settings) -> None:
    who, auth = await _secret(client, db_session, settings)
    many = await client.post(
        "/api/v1/entries.json", json=[sgv_entry(20, 110), sgv_entry(15, 115)], headers=auth
    )
    one = await client.post("/api/v1/entries.json", json=sgv_entry(10, 120), headers=auth)
    assert (many.status_code, one.status_code) == (200, 200)
    assert [e["sgv"] for e in one.json()] == [120]
    count = len(
        list(await db_session.scalars(select(Reading).where(Reading.patient_id == who.patient.id)))
    )
    assert count == 3


async def test_the_trend_noise_raw_values_and_device_are_kept(client, db_session, settings) -> None:
    who, auth = await _secret(client, db_session, settings)
    sent = sgv_entry(
        5,
        142,
        direction="FortyFiveUp",
        noise=1,
        filtered=141000,
        unfiltered=143500,
        device="xDrip-DexcomG6",
    )
    await client.post("/api/v1/entries", json=[sent], headers=auth)
    [row] = await db_session.scalars(select(Reading).where(Reading.patient_id == who.patient.id))
    assert (row.trend, row.noise, row.filtered, row.unfiltered, row.source_device) == (
        "FortyFiveUp",
        1,
        141000,
        143500,
        "xDrip-DexcomG6",
    )
    [back] = (await client.get("/api/v1/entries/sgv.json", headers=auth)).json()
    assert {
        k: back[k] for k in ("sgv", "direction", "noise", "filtered", "unfiltered", "device")
    } == {
        "sgv": 142,
        "direction": "FortyFiveUp",
        "noise": 1,
        "filtered": 141000,
        "unfiltered": 143500,
        "device": "xDrip-DexcomG6",
    }


async def test_readers_find_and_count_as_nightscout_answers(client, db_session, settings) -> None:
    _, auth = await _secret(client, db_session, settings)
    entries = [sgv_entry(5 * i, 100 + i) for i in range(1, 13)]
    entries.append({**sgv_entry(62, 95), "type": "mbg", "mbg": 95})
    await client.post("/api/v1/entries", json=entries, headers=auth)
    default = (await client.get("/api/v1/entries/sgv.json", headers=auth)).json()
    assert [e["sgv"] for e in default] == list(range(101, 111))  # count defaults to 10
    since = entries[3]["date"]  # 20 minutes ago
    found = (
        await client.get(
            "/api/v1/entries/sgv.json",
            params={"find[date][$gte]": since, "count": 100},
            headers=auth,
        )
    ).json()
    assert [e["sgv"] for e in found] == [101, 102, 103, 104]
    high = (
        await client.get(
            "/api/v1/entries.json", params={"find[sgv][$gt]": "110", "count": 50}, headers=auth
        )
    ).json()
    assert [e["sgv"] for e in high] == [111, 112]
    mbg = (await client.get("/api/v1/entries/mbg.json", headers=auth)).json()
    assert [(e["type"], e["mbg"]) for e in mbg] == [("mbg", 95)]
    [current] = (await client.get("/api/v1/entries/current.json", headers=auth)).json()
    assert current["sgv"] == 101
    bad = await client.get("/api/v1/entries.json", params={"find[date][$gte]": "x"}, headers=auth)
    assert (bad.status_code, bad.json()["code"]) == (400, "nightscout_bad_query")


async def test_status_and_verifyauth(client, db_session, settings) -> None:
    _, auth = await _secret(client, db_session, settings)
    status = (await client.get("/api/v1/status.json", headers=auth)).json()
    assert (status["status"], status["apiEnabled"], status["settings"]["units"]) == (
        "ok",
        True,
        "mmol",
    )
    good = await client.get("/api/v1/verifyauth", headers=auth)
    bad = await client.get("/api/v1/verifyauth", headers={"api-secret": "0" * 40})
    assert (good.status_code, bad.status_code) == (200, 200)
    assert good.json()["message"]["message"] == "OK"
    assert bad.json()["message"] == {
        "canRead": False,
        "canWrite": False,
        "isAdmin": False,
        "message": "UNAUTHORIZED",
        "rolefound": "NOTFOUND",
        "permissions": "DEFAULT",
    }
    assert (await client.get("/api/v1/status.json")).status_code == 401


async def test_treatments_and_devicestatus_are_accepted(client, db_session, settings) -> None:
    _, auth = await _secret(client, db_session, settings)
    battery = {"uploaderBattery": False}  # share2nightscout-bridge's first devicestatus
    bolus = [{"eventType": "Correction Bolus", "insulin": 2, "created_at": utcnow().isoformat()}]
    for path, body in (
        ("/api/v1/devicestatus.json", battery),
        ("/api/v1/treatments.json", bolus),
        ("/api/v1/treatments", bolus),
    ):
        response = await client.post(path, json=body, headers=auth)
        assert response.status_code == 200, path
    for path in ("/api/v1/treatments.json", "/api/v1/devicestatus.json", "/api/v1/profile.json"):
        response = await client.get(path, headers=auth)
        assert (response.status_code, response.json()) == (200, [])


async def test_a_date_string_without_offset_says_so(client, db_session, settings) -> None:
    _, auth = await _secret(client, db_session, settings)
    naive = (utcnow() - timedelta(minutes=3)).replace(tzinfo=None).isoformat()
    response = await client.post(
        "/api/v1/entries", json=[{"type": "sgv", "sgv": 120, "dateString": naive}], headers=auth
    )
    assert response.headers["X-Readings-Rejected"] == "1"
    assert response.json() == []


async def test_py_nightscout_token_and_secret_query_are_accepted(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    secret = (await client.post("/api/v1/nightscout/credential", headers=who.headers)).json()
    for headers, params in (
        ({"api-secret": f"token={secret['secret']}"}, {}),
        ({}, {"secret": secret["api_secret_sha1"]}),
        ({"api-secret": hashlib.sha1(secret["secret"].encode()).hexdigest().upper()}, {}),
    ):
        response = await client.get("/api/v1/entries.json", headers=headers, params=params)
        assert response.status_code == 200, (headers, params)
