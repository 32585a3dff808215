"""Doctors' signing keys: the doctor registers (their act, with proof that their device holds
the key), an admin activates after checking the fingerprint (the admin's act); both audited.
Nobody registers a key for someone else; rotation retires, revocation withdraws."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app.models import AuditEvent, DoctorSigningKey, Role
from app.prescription.keys import KEY_MACHINE, MAX_PENDING_KEYS, KeyStatus
from app.prescription.signing import signature_valid
from tests.fixtures import factories
from tests.prescription import phone as doctor_phone
from tests.prescription.phone import DoctorPhone
from tests.prescription.world import World, ok

MINE = "/api/v1/doctors/me/signing-keys"
KEYS = "/api/v1/signing-keys"


@pytest.fixture
async def admin(db_session, settings) -> dict[str, str]:
    account = await factories.account(db_session, Role.admin)
    return await factories.bearer(db_session, settings, account)


async def _register(client, world: World, phone: DoctorPhone) -> dict[str, Any]:
    return await doctor_phone.register(client, phone, world.doctor.id, world.as_("doctor"))


async def _events(db_session, key_id: str) -> list[tuple[str, str, uuid.UUID]]:
    rows = await db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.resource_type == "doctor_signing_key", AuditEvent.resource_id == key_id)
        .order_by(AuditEvent.id)
    )
    return [(row.action, row.actor_role, row.actor_account_id) for row in rows]


async def _status(db_session, key_id: str) -> str:
    row = await db_session.get(DoctorSigningKey, uuid.UUID(key_id))
    assert row is not None
    await db_session.refresh(row)
    return row.status


async def test_a_doctor_registers_a_key_which_waits_for_an_admin(
    client, world: World, db_session
) -> None:
    phone = DoctorPhone()
    key = await _register(client, world, phone)
    assert key["status"] == "pending" and key["doctor_id"] == str(world.doctor.id)
    assert key["public_key"] == phone.public_key and key["fingerprint"] == phone.fingerprint
    assert key["registered_by_account_id"] == str(world.doctor_account.id)
    assert key["activated_at"] is None and key["origin"] == "device"
    assert await _events(db_session, key["id"]) == [("create", "doctor", world.doctor_account.id)]
    listed = await ok(await client.get(MINE, headers=world.as_("doctor")))
    assert [k["status"] for k in listed["items"]] == ["pending", "active"]


async def test_an_admin_activates_it_by_fingerprint_and_the_old_key_is_retired(
    client, world: World, db_session, admin
) -> None:
    phone = DoctorPhone()
    key = await _register(client, world, phone)
    pending = await ok(await client.get(KEYS, params={"status": "pending"}, headers=admin))
    assert [k["id"] for k in pending["items"]] == [key["id"]]
    activated = await ok(
        await client.post(
            f"{KEYS}/{key['id']}/activate", json={"fingerprint": phone.fingerprint}, headers=admin
        )
    )
    assert activated["status"] == "active" and activated["activated_by_account_id"]
    mine = await ok(await client.get(MINE, headers=world.as_("doctor")))
    by_key = {k["public_key"]: k for k in mine["items"]}
    assert by_key[world.phone.public_key]["status"] == "retired"
    assert by_key[world.phone.public_key]["retired_at"] == activated["activated_at"]
    actions = await _events(db_session, key["id"])
    assert [(a, r) for a, r, _ in actions] == [("create", "doctor"), ("update", "admin")]


async def test_a_wrong_fingerprint_activates_nothing(
    client, world: World, db_session, admin
) -> None:
    key = await _register(client, world, DoctorPhone())
    response = await client.post(
        f"{KEYS}/{key['id']}/activate",
        json={"fingerprint": DoctorPhone().fingerprint},
        headers=admin,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "signing_key_fingerprint_mismatch"
    assert await _status(db_session, key["id"]) == "pending"


async def test_registration_needs_the_devices_proof_for_this_doctor(
    client, world: World, db_session, settings
) -> None:
    phone = DoctorPhone()
    body = phone.registration(world.doctor.id)
    # Signed by another key: the caller does not hold the key it registers.
    forged = {**body, "proof": DoctorPhone().registration(world.doctor.id)["proof"]}
    response = await client.post(MINE, json=forged, headers=world.as_("doctor"))
    assert response.status_code == 409 and response.json()["code"] == "signing_key_proof_invalid"
    # Another doctor replaying this doctor's registration: the proof names this doctor.
    other = await factories.account(db_session, Role.doctor)
    headers = await factories.bearer(db_session, settings, other)
    response = await client.post(MINE, json=body, headers=headers)
    assert response.json()["code"] == "signing_key_proof_invalid"
    count = await db_session.scalar(
        select(DoctorSigningKey.id).where(DoctorSigningKey.public_key == phone.public_key)
    )
    assert count is None


async def test_a_small_order_public_key_is_refused(client, world: World) -> None:
    # The identity point: OpenSSL verifies (R = identity, S = 0) for ANY message under it, so
    # a doctor registering it could later disown every signature as forgeable by anyone.
    identity = base64.b64encode(bytes([1] + [0] * 31)).decode()
    universal = base64.b64encode(bytes([1] + [0] * 31) + bytes(32)).decode()
    assert signature_valid(identity, b"anything at all", universal)  # why libsodium checks keys
    response = await client.post(
        MINE,
        json={"algorithm": "Ed25519", "public_key": identity, "proof": universal},
        headers=world.as_("doctor"),
    )
    assert response.status_code == 409 and response.json()["code"] == "signing_key_invalid"


async def test_a_key_is_registered_once(client, world: World) -> None:
    phone = DoctorPhone()
    await _register(client, world, phone)
    response = await client.post(
        MINE, json=phone.registration(world.doctor.id), headers=world.as_("doctor")
    )
    assert response.status_code == 409 and response.json()["code"] == "signing_key_exists"


async def test_keys_waiting_for_activation_are_capped(client, world: World) -> None:
    for _ in range(MAX_PENDING_KEYS):
        await _register(client, world, DoctorPhone())
    response = await client.post(
        MINE, json=DoctorPhone().registration(world.doctor.id), headers=world.as_("doctor")
    )
    assert response.status_code == 409 and response.json()["code"] == "signing_key_pending_limit"


@pytest.mark.parametrize("role", [Role.admin, Role.patient, Role.pharmacist, Role.bureau])
async def test_nobody_but_the_doctor_registers_a_key_for_them(
    client, world: World, db_session, settings, role: Role
) -> None:
    account = await factories.account(db_session, role)
    headers = await factories.bearer(db_session, settings, account)
    response = await client.post(
        MINE, json=DoctorPhone().registration(world.doctor.id), headers=headers
    )
    assert response.status_code == 403
    keys = await db_session.scalars(
        select(DoctorSigningKey).where(DoctorSigningKey.doctor_id == world.doctor.id)
    )
    assert [k.public_key for k in keys] == [world.phone.public_key]


@pytest.mark.parametrize("who", ["doctor", "patient", "reviewer"])
async def test_only_admins_activate_and_list_keys(
    client, world: World, db_session, who: str
) -> None:
    phone = DoctorPhone()
    key = await _register(client, world, phone)
    response = await client.post(
        f"{KEYS}/{key['id']}/activate",
        json={"fingerprint": phone.fingerprint},
        headers=world.as_(who),
    )
    assert response.status_code == 403
    assert (await client.get(KEYS, headers=world.as_(who))).status_code == 403
    assert await _status(db_session, key["id"]) == "pending"


async def test_a_doctor_revokes_their_own_key_but_not_another_doctors(
    client, world: World, db_session, settings
) -> None:
    mine = await ok(await client.get(MINE, headers=world.as_("doctor")))
    [active] = mine["items"]
    other = await factories.account(db_session, Role.doctor)
    other_headers = await factories.bearer(db_session, settings, other)
    response = await client.post(
        f"{MINE}/{active['id']}/revoke", json={"reason": "不是我的"}, headers=other_headers
    )
    assert response.status_code == 404
    assert await _status(db_session, active["id"]) == "active"
    revoked = await ok(
        await client.post(
            f"{MINE}/{active['id']}/revoke",
            json={"reason": "手机丢失"},
            headers=world.as_("doctor"),
        )
    )
    assert revoked["status"] == "revoked" and revoked["revoke_reason"] == "手机丢失"
    assert revoked["revoked_by_account_id"] == str(world.doctor_account.id)
    assert [a for a, _, _ in await _events(db_session, active["id"])] == ["update"]


async def test_a_revoked_key_cannot_be_activated_again(
    client, world: World, db_session, admin
) -> None:
    phone = DoctorPhone()
    key = await _register(client, world, phone)
    await ok(await client.post(f"{KEYS}/{key['id']}/revoke", json={"reason": "x"}, headers=admin))
    for _ in range(2):
        response = await client.post(
            f"{KEYS}/{key['id']}/activate", json={"fingerprint": phone.fingerprint}, headers=admin
        )
        assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    assert await _status(db_session, key["id"]) == "revoked"


async def test_an_active_key_is_not_activated_twice(client, world: World, admin) -> None:
    phone = DoctorPhone()
    key = await _register(client, world, phone)
    url, body = f"{KEYS}/{key['id']}/activate", {"fingerprint": phone.fingerprint}
    await ok(await client.post(url, json=body, headers=admin))
    response = await client.post(url, json=body, headers=admin)
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"


def test_every_key_state_is_reachable_and_revoked_is_final() -> None:
    assert KEY_MACHINE.reachable() == set(KeyStatus)
    assert {s for s in KeyStatus if KEY_MACHINE.is_terminal(s)} == {KeyStatus.revoked}
    assert not KEY_MACHINE.allows(KeyStatus.retired, KeyStatus.active)


async def test_the_registration_proof_is_kept_and_verifies(
    client, world: World, db_session
) -> None:
    phone = DoctorPhone()
    key = await _register(client, world, phone)
    row = await db_session.get(DoctorSigningKey, uuid.UUID(key["id"]))
    assert row is not None and row.registration_proof is not None
    statement = (
        f'{{"algorithm":"Ed25519","doctor_id":"{world.doctor.id}",'
        f'"public_key":"{phone.public_key}","purpose":"register_signing_key","v":1}}'
    )
    assert signature_valid(row.public_key, statement.encode(), row.registration_proof)
