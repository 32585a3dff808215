"""Binding devices and running CGM sensors."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from app.main import create_app
from tests.fixtures import factories
from tests.fixtures.servers import serve_in_loop
from tests.reading.helpers import committed_database, committed_patient, doctor_for, wearer

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
    listed = (await client.get("/api/v1/devices", headers=headers)).json()["items"]
    assert [d["serial"] for d in listed] == ["G7-0001"]
    assert (
        await client.delete(f"/api/v1/devices/{body['id']}", headers=headers)
    ).status_code == 204
    assert (await client.get("/api/v1/devices", headers=headers)).json()["items"] == []


async def _register(client, db_session, settings, serial: str, code: str = "4827") -> None:
    from app.models import Role

    admin = await factories.account(db_session, Role.admin)
    headers = await factories.bearer(db_session, settings, admin)
    body = {
        "source": "vendor",
        "devices": [{"kind": "cgm", "model": "Dexcom G7", "serial": serial, "pairing_code": code}],
    }
    response = await client.post("/api/v1/device-registrations", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["registered"] == 1


async def test_a_registered_serial_feeds_the_patient_who_gives_its_code(
    client, db_session, settings
) -> None:
    _, first = await _patient(db_session, settings)
    _, second = await _patient(db_session, settings)
    await _register(client, db_session, settings, "SHARED-1")
    serial = {**CGM, "serial": "SHARED-1"}
    without = await client.post("/api/v1/devices", json=serial, headers=first)
    assert (without.status_code, without.json()["code"]) == (409, "device_pairing_code_required")
    made = await client.post(
        "/api/v1/devices", json={**serial, "pairing_code": "4827"}, headers=first
    )
    assert (made.status_code, made.json()["verified"]) == (201, True)
    taken = await client.post(
        "/api/v1/devices", json={**serial, "pairing_code": "4827"}, headers=second
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "device_already_bound")
    await client.delete(f"/api/v1/devices/{made.json()['id']}", headers=first)
    again = await client.post(
        "/api/v1/devices", json={**serial, "pairing_code": "4827"}, headers=second
    )
    assert again.status_code == 201


async def test_a_claim_without_proof_does_not_block_the_owner(client, db_session, settings) -> None:
    # Someone binds the serial first (it was not registered yet, or they skip the code): an
    # unproven claim. The owner, with the code from the box, gets it and the claim ends.
    _, squatter = await _patient(db_session, settings)
    owner_patient, owner = await _patient(db_session, settings)
    serial = {**CGM, "serial": "G7-CLAIMED"}
    claim = await client.post("/api/v1/devices", json=serial, headers=squatter)
    assert (claim.status_code, claim.json()["verified"]) == (201, False)
    # Unregistered: the owner's unproven binding is not refused either.
    assert (await client.post("/api/v1/devices", json=serial, headers=owner)).status_code == 201
    await _register(client, db_session, settings, "G7-CLAIMED", code="9315")
    proven = await client.post(
        "/api/v1/devices", json={**serial, "pairing_code": "9315"}, headers=owner
    )
    # The owner's earlier unproven binding of it becomes the proven one.
    assert proven.status_code == 201
    assert (proven.json()["patient_id"], proven.json()["verified"]) == (str(owner_patient.id), True)
    assert (await client.get("/api/v1/devices", headers=squatter)).json()["items"] == []


async def test_wrong_pairing_codes_are_counted_per_patient(client, db_session, settings) -> None:
    _, guesser = await _patient(db_session, settings)
    _, owner = await _patient(db_session, settings)
    await _register(client, db_session, settings, "G7-GUESSED", code="1111")
    body = {**CGM, "serial": "G7-GUESSED"}
    for left in (4, 3, 2, 1, 0):
        wrong = await client.post(
            "/api/v1/devices", json={**body, "pairing_code": "0000"}, headers=guesser
        )
        assert (wrong.status_code, wrong.json()["code"]) == (409, "device_pairing_code_wrong")
        assert str(left) in wrong.json()["detail"]
    locked = await client.post(
        "/api/v1/devices", json={**body, "pairing_code": "1111"}, headers=guesser
    )
    assert locked.json()["code"] == "device_pairing_locked"
    # The stranger's guesses never lock the owner out.
    mine = await client.post(
        "/api/v1/devices", json={**body, "pairing_code": "1111"}, headers=owner
    )
    assert mine.status_code == 201


async def test_only_admins_register_serials(client, db_session, settings) -> None:
    _, patient = await _patient(db_session, settings)
    body = {
        "source": "clinic",
        "devices": [{"kind": "cgm", "model": "G7", "serial": "X", "pairing_code": "1234"}],
    }
    response = await client.post("/api/v1/device-registrations", json=body, headers=patient)
    assert response.status_code == 403


async def test_a_patient_binds_a_bounded_number_of_devices(client, db_session, settings) -> None:
    _, headers = await _patient(db_session, settings)
    limit = settings.device_max_per_kind
    for n in range(limit):
        made = await client.post(
            "/api/v1/devices", json={**CGM, "serial": f"CAP-{n}"}, headers=headers
        )
        assert made.status_code == 201
    over = await client.post("/api/v1/devices", json={**CGM, "serial": "CAP-X"}, headers=headers)
    assert (over.status_code, over.json()["code"]) == (409, "device_kind_limit_reached")
    kinds = [("bp", "mmHg"), ("ecg", "bpm"), ("meter", "mmol/L")]
    made_total = limit
    refused = None
    for kind, unit in kinds * 3:
        response = await client.post(
            "/api/v1/devices",
            json={"kind": kind, "model": "M", "serial": f"{kind}-{made_total}", "unit": unit},
            headers=headers,
        )
        if response.status_code != 201:
            refused = response.json()["code"]
            break
        made_total += 1
    assert made_total == settings.device_max_per_patient
    assert refused == "device_limit_reached"


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
    listed = (await client.get("/api/v1/devices", headers=headers)).json()["items"]
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
    assert sorted(d["kind"] for d in mine.json()["items"]) == ["bp", "cgm", "ecg", "meter"]
    theirs = await client.get(f"/api/v1/patients/{other.patient.id}/devices", headers=doctor)
    assert theirs.status_code == 404


@pytest.mark.postgres
async def test_concurrent_bindings_respect_the_cap() -> None:
    from app.models import Device

    async with committed_database() as (settings, sessionmaker):
        patient, headers = await committed_patient(sessionmaker, settings)
        async with (
            serve_in_loop(create_app(settings)) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        ):
            responses = await asyncio.gather(
                *(
                    http.post(
                        "/api/v1/devices", json={**CGM, "serial": f"RACE-{n}"}, headers=headers
                    )
                    for n in range(12)
                )
            )
        codes = sorted(r.status_code for r in responses)
        async with sessionmaker() as session:
            from sqlalchemy import func, select

            bound = await session.scalar(
                select(func.count()).select_from(Device).where(Device.patient_id == patient.id)
            )
    assert codes == [201] * settings.device_max_per_kind + [409] * (
        12 - settings.device_max_per_kind
    )
    assert bound == settings.device_max_per_kind
