"""Binding devices and running CGM sensors."""

from __future__ import annotations

from tests.fixtures import factories
from tests.reading.helpers import doctor_for, wearer

CGM = {"kind": "cgm", "model": "Dexcom G7", "serial": "G7-0001", "sample_interval_seconds": 300}


async def _patient(db_session, settings):
    from app.models import Role

    account = await factories.account(db_session, Role.patient)
    patient = await factories.patient_of(db_session, account)
    return patient, await factories.bearer(db_session, settings, account)


async def test_bind_list_and_unbind(client, db_session, settings) -> None:
    patient, headers = await _patient(db_session, settings)
    created = await client.post("/api/v1/devices", json=CGM, headers=headers)
    assert created.status_code == 201
    body = created.json()
    assert (body["unit"], body["sample_interval_seconds"], body["source"]) == ("mmol/L", 300, "app")
    assert body["patient_id"] == str(patient.id)
    again = await client.post("/api/v1/devices", json=CGM, headers=headers)
    assert again.json()["id"] == body["id"]
    listed = (await client.get("/api/v1/devices", headers=headers)).json()
    assert [d["serial"] for d in listed] == ["G7-0001"]
    assert (
        await client.delete(f"/api/v1/devices/{body['id']}", headers=headers)
    ).status_code == 204
    assert (await client.get("/api/v1/devices", headers=headers)).json() == []


async def test_a_serial_feeds_one_patient_at_a_time(client, db_session, settings) -> None:
    _, first = await _patient(db_session, settings)
    _, second = await _patient(db_session, settings)
    serial = {**CGM, "serial": "SHARED-1"}
    made = (await client.post("/api/v1/devices", json=serial, headers=first)).json()
    taken = await client.post("/api/v1/devices", json=serial, headers=second)
    assert (taken.status_code, taken.json()["code"]) == (409, "device_already_bound")
    await client.delete(f"/api/v1/devices/{made['id']}", headers=first)
    assert (await client.post("/api/v1/devices", json=serial, headers=second)).status_code == 201


async def test_unit_must_suit_the_device_kind(client, db_session, settings) -> None:
    _, headers = await _patient(db_session, settings)
    body = {"kind": "bp", "model": "Omron", "serial": "BP-1", "unit": "mmol/L"}
    assert (await client.post("/api/v1/devices", json=body, headers=headers)).status_code == 422


async def test_sensor_sessions(client, db_session, settings) -> None:
    _, headers = await _patient(db_session, settings)
    device = (
        await client.post("/api/v1/devices", json={**CGM, "serial": "S-2"}, headers=headers)
    ).json()
    url = f"/api/v1/devices/{device['id']}/sensor-sessions"
    started = await client.post(url, json={"expected_days": 10}, headers=headers)
    assert started.status_code == 201
    assert (await client.post(url, json={}, headers=headers)).json()[
        "code"
    ] == "sensor_session_running"
    listed = (await client.get("/api/v1/devices", headers=headers)).json()
    assert listed[0]["sensor_session"]["id"] == started.json()["id"]
    ended = await client.post(f"{url}/end", headers=headers)
    assert ended.json()["ended_at"] is not None
    assert (await client.post(f"{url}/end", headers=headers)).status_code == 404
    meter = (
        await client.post(
            "/api/v1/devices",
            json={"kind": "meter", "model": "Accu", "serial": "M-1"},
            headers=headers,
        )
    ).json()
    refused = await client.post(
        f"/api/v1/devices/{meter['id']}/sensor-sessions", json={}, headers=headers
    )
    assert refused.json()["code"] == "device_not_cgm"


async def test_doctor_sees_devices_of_their_patients_only(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    _, _, doctor = await doctor_for(db_session, settings, who.patient)
    other = await wearer(db_session, settings)
    mine = await client.get(f"/api/v1/patients/{who.patient.id}/devices", headers=doctor)
    assert sorted(d["kind"] for d in mine.json()) == ["bp", "cgm", "ecg", "meter"]
    theirs = await client.get(f"/api/v1/patients/{other.patient.id}/devices", headers=doctor)
    assert theirs.status_code == 404
