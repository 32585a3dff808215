"""The doctor's signature is made on the doctor's phone (PyNaCl here, an implementation
independent of the service's verifier) over the bytes the service hands out; the service
verifies it against the doctor's active key and seals the prescription. Anything else is
refused, and any later change to the signed content is detected (409)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from nacl.signing import VerifyKey
from sqlalchemy import select, update

from app.kit.clock import utcnow
from app.models import DoctorSigningKey, Prescription, PrescriptionItem, Role
from tests.fixtures import factories
from tests.prescription import phone as doctor_phone
from tests.prescription.phone import DoctorPhone
from tests.prescription.world import World, active_key, item, ok, rx_body, signed

URL = "/api/v1/prescriptions"


def canonical(content: dict[str, Any]) -> str:
    """The documented canonical form, built here independently: sorted keys, compact, UTF-8."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


async def _draft(client, world: World, body: dict[str, Any] | None = None) -> str:
    created = await ok(
        await client.post(URL, json=body or rx_body(world), headers=world.as_("doctor")), 201
    )
    return str(created["id"])


def _acarbose(world: World) -> dict[str, Any]:
    """A draft that does not duplicate the metformin one."""
    return rx_body(world, item(world.drugs.acarbose, "1", "tid"))


async def _payload(client, world: World, prescription_id: str) -> dict[str, Any]:
    return await doctor_phone.payload(client, prescription_id, world.as_("doctor"))


async def _send(
    client, world: World, prescription_id: str, content: str, signature: str
) -> dict[str, Any]:
    response = await client.post(
        f"{URL}/{prescription_id}/sign",
        json={"signed_content": content, "signature": signature},
        headers=world.as_("doctor"),
    )
    assert response.status_code == 409, response.text
    data: dict[str, Any] = response.json()
    return data


async def _unsigned(db_session, prescription_id: str) -> bool:
    row = await db_session.get(Prescription, uuid.UUID(prescription_id))
    assert row is not None
    await db_session.refresh(row)
    return row.status == "draft" and row.signature is None and row.signing_key_id is None


def _resigned(content: str, phone: DoctorPhone, **changes: Any) -> tuple[str, str]:
    """The payload's content with `changes`, re-canonicalised and signed by `phone`."""
    crafted = canonical({**json.loads(content), **changes})
    return crafted, phone.sign(crafted)


async def _admin(db_session, settings) -> dict[str, str]:
    return await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.admin)
    )


async def test_the_payload_is_the_canonical_content_of_the_draft_with_the_active_key(
    client, world: World, db_session
) -> None:
    prescription_id = await _draft(client, world)
    payload = await _payload(client, world, prescription_id)
    content = json.loads(payload["signed_content"])
    assert canonical(content) == payload["signed_content"]
    key = await db_session.scalar(
        select(DoctorSigningKey).where(DoctorSigningKey.public_key == world.phone.public_key)
    )
    assert key is not None and payload["key_id"] == str(key.id) == content["key_id"]
    assert payload["key_fingerprint"] == world.phone.fingerprint
    assert content["prescription_id"] == prescription_id and content["algorithm"] == "Ed25519"
    assert content["diagnosis"] == "2型糖尿病伴周围神经病变，复诊"  # UTF-8, not \\u escapes
    assert datetime.fromisoformat(payload["expires_at"]) - datetime.fromisoformat(
        payload["signed_at"]
    ) == timedelta(minutes=10)


async def test_the_phones_signature_is_stored_with_the_key_id_and_verifies_outside(
    client, world: World
) -> None:
    prescription_id = await _draft(client, world)
    payload = await _payload(client, world, prescription_id)
    signature = world.phone.sign(payload["signed_content"])
    sealed = await ok(
        await client.post(
            f"{URL}/{prescription_id}/sign",
            json={"signed_content": payload["signed_content"], "signature": signature},
            headers=world.as_("doctor"),
        )
    )
    assert sealed["status"] == "pending_review"
    block = sealed["signature"]
    assert block["signature"] == signature and block["key_id"] == payload["key_id"]
    assert block["signed_content"] == payload["signed_content"]
    assert block["public_key"] == world.phone.public_key and block["key_status"] == "active"
    assert block["key_origin"] == "device"
    # Anyone can check it with the published public key (libsodium raises if it does not hold).
    read = await ok(await client.get(f"{URL}/{prescription_id}", headers=world.as_("patient")))
    published = read["signature"]
    VerifyKey(base64.b64decode(published["public_key"])).verify(
        published["signed_content"].encode(), base64.b64decode(published["signature"])
    )


async def test_a_login_token_alone_signs_nothing(client, world: World, db_session) -> None:
    prescription_id = await _draft(client, world)
    response = await client.post(f"{URL}/{prescription_id}/sign", headers=world.as_("doctor"))
    assert response.status_code == 422
    response = await client.post(
        f"{URL}/{prescription_id}/sign", json={}, headers=world.as_("doctor")
    )
    assert response.status_code == 422
    assert await _unsigned(db_session, prescription_id)


async def test_a_signature_over_different_bytes_is_refused(
    client, world: World, db_session
) -> None:
    prescription_id = await _draft(client, world)
    content = (await _payload(client, world, prescription_id))["signed_content"]
    # Content the doctor did not get from the service (more packs), validly signed.
    crafted, signature = _resigned(content, world.phone, total_fen=1)
    assert (await _send(client, world, prescription_id, crafted, signature))[
        "code"
    ] == "signed_content_mismatch"
    # The right content, with a signature over other bytes.
    other = world.phone.sign(content.replace('"packs":1', '"packs":9'))
    assert (await _send(client, world, prescription_id, content, other))[
        "code"
    ] == "signature_invalid"
    # The same bytes, not in canonical form.
    spaced = json.dumps(json.loads(content), ensure_ascii=False, sort_keys=True)
    assert (await _send(client, world, prescription_id, spaced, world.phone.sign(spaced)))[
        "code"
    ] == "signed_content_mismatch"
    assert await _unsigned(db_session, prescription_id)


@pytest.mark.parametrize(
    "content",
    ["[" * 15_000, "[]", '"text"', '{"key_id": 5}', '{"key_id": "x", "signed_at": "y"}'],
    ids=["deeply-nested", "array", "string", "number-key", "no-uuid"],
)
async def test_signed_content_that_is_not_signed_content_is_refused(
    client, world: World, db_session, content: str
) -> None:
    prescription_id = await _draft(client, world)
    answer = await _send(client, world, prescription_id, content, world.phone.sign(content))
    assert answer["code"] == "signed_content_mismatch"
    assert await _unsigned(db_session, prescription_id)


async def test_a_signature_by_a_key_the_doctor_does_not_hold_is_refused(
    client, world: World, db_session
) -> None:
    prescription_id = await _draft(client, world)
    content = (await _payload(client, world, prescription_id))["signed_content"]
    stranger = DoctorPhone()
    answer = await _send(client, world, prescription_id, content, stranger.sign(content))
    assert answer["code"] == "signature_invalid"
    assert await _unsigned(db_session, prescription_id)


async def test_another_doctors_key_cannot_sign(client, world: World, db_session, settings) -> None:
    other_account = await factories.account(db_session, Role.doctor)
    other = await factories.doctor_of(db_session, other_account)
    other_phone = DoctorPhone()
    other_key = await active_key(db_session, other, other_account, other_phone)
    prescription_id = await _draft(client, world)
    content = (await _payload(client, world, prescription_id))["signed_content"]
    crafted, signature = _resigned(content, other_phone, key_id=str(other_key.id))
    answer = await _send(client, world, prescription_id, crafted, signature)
    assert answer["code"] == "signing_key_not_active"
    # Nor can the other doctor sign (or even see) this doctor's draft.
    headers = await factories.bearer(db_session, settings, other_account)
    response = await client.post(
        f"{URL}/{prescription_id}/sign",
        json={"signed_content": crafted, "signature": signature},
        headers=headers,
    )
    assert response.status_code == 404
    assert await _unsigned(db_session, prescription_id)


async def test_a_pending_key_cannot_sign(client, world: World, db_session) -> None:
    new_phone = DoctorPhone()
    pending = await doctor_phone.register(client, new_phone, world.doctor.id, world.as_("doctor"))
    prescription_id = await _draft(client, world)
    content = (await _payload(client, world, prescription_id))["signed_content"]
    crafted, signature = _resigned(content, new_phone, key_id=pending["id"])
    answer = await _send(client, world, prescription_id, crafted, signature)
    assert answer["code"] == "signing_key_pending"
    assert await _unsigned(db_session, prescription_id)


async def test_a_doctor_whose_only_new_key_is_pending_gets_no_payload(
    client, world: World, db_session
) -> None:
    key = await db_session.scalar(
        select(DoctorSigningKey).where(DoctorSigningKey.public_key == world.phone.public_key)
    )
    assert key is not None
    key.status, key.revoked_at = "revoked", utcnow()
    await db_session.flush()
    # Registered, not activated.
    await doctor_phone.register(client, DoctorPhone(), world.doctor.id, world.as_("doctor"))
    prescription_id = await _draft(client, world)
    response = await client.get(
        f"{URL}/{prescription_id}/signing-payload", headers=world.as_("doctor")
    )
    assert response.status_code == 409 and response.json()["code"] == "signing_key_missing"


async def test_a_revoked_key_signs_nothing_new_and_what_it_signed_stays_valid(
    client, world: World, db_session, settings
) -> None:
    before = await signed(client, world)
    prescription_id = await _draft(client, world, _acarbose(world))
    content = (await _payload(client, world, prescription_id))["signed_content"]
    key_id = json.loads(content)["key_id"]
    revoked = await ok(
        await client.post(
            f"/api/v1/signing-keys/{key_id}/revoke",
            json={"reason": "手机丢失"},
            headers=await _admin(db_session, settings),
        )
    )
    assert revoked["status"] == "revoked"
    # The payload fetched before the revocation no longer signs.
    answer = await _send(client, world, prescription_id, content, world.phone.sign(content))
    assert answer["code"] == "signing_key_revoked"
    response = await client.get(
        f"{URL}/{prescription_id}/signing-payload", headers=world.as_("doctor")
    )
    assert response.json()["code"] == "signing_key_missing"
    assert await _unsigned(db_session, prescription_id)
    # Signed while the key was active: still verified on read and review.
    read = await ok(await client.get(f"{URL}/{before}", headers=world.as_("patient")))
    assert read["signature"]["key_status"] == "revoked"
    assert read["signature"]["signed_at"] < read["signature"]["key_revoked_at"]
    await ok(await client.post(f"{URL}/{before}/approve", headers=world.as_("reviewer")))


async def test_rotation_retires_the_old_key_which_verifies_its_past_and_signs_nothing_new(
    client, world: World, db_session, settings
) -> None:
    before = await signed(client, world)
    prescription_id = await _draft(client, world, _acarbose(world))
    old_content = (await _payload(client, world, prescription_id))["signed_content"]
    new_phone = DoctorPhone()
    registered = await doctor_phone.register(
        client, new_phone, world.doctor.id, world.as_("doctor")
    )
    admin = await _admin(db_session, settings)
    await doctor_phone.activate(client, new_phone, registered["id"], admin)
    answer = await _send(client, world, prescription_id, old_content, world.phone.sign(old_content))
    assert answer["code"] == "signing_key_not_active"
    read = await ok(await client.get(f"{URL}/{before}", headers=world.as_("doctor")))
    assert read["signature"]["key_status"] == "retired"
    sealed = await ok(
        await doctor_phone.sign(client, prescription_id, world.as_("doctor"), new_phone)
    )
    assert sealed["signature"]["key_id"] == registered["id"]


async def test_bytes_signed_before_the_key_was_activated_are_refused(
    client, world: World, db_session
) -> None:
    prescription_id = await _draft(client, world)
    content = (await _payload(client, world, prescription_id))["signed_content"]
    key = await db_session.scalar(
        select(DoctorSigningKey).where(DoctorSigningKey.public_key == world.phone.public_key)
    )
    assert key is not None and key.activated_at is not None
    early = (key.activated_at - timedelta(seconds=30)).isoformat()
    crafted, signature = _resigned(content, world.phone, signed_at=early)
    answer = await _send(client, world, prescription_id, crafted, signature)
    assert answer["code"] == "signing_key_not_active"


@pytest.mark.parametrize("shift", [timedelta(minutes=-11), timedelta(minutes=5)])
async def test_a_stale_or_future_payload_is_refused(
    client, world: World, db_session, shift: timedelta
) -> None:
    prescription_id = await _draft(client, world)
    content = (await _payload(client, world, prescription_id))["signed_content"]
    key = await db_session.scalar(
        select(DoctorSigningKey).where(DoctorSigningKey.public_key == world.phone.public_key)
    )
    assert key is not None
    key.activated_at = datetime.fromisoformat(json.loads(content)["signed_at"]) - timedelta(hours=1)
    await db_session.flush()
    moment = datetime.fromisoformat(json.loads(content)["signed_at"]) + shift
    crafted, signature = _resigned(content, world.phone, signed_at=moment.isoformat())
    answer = await _send(client, world, prescription_id, crafted, signature)
    assert answer["code"] == "signing_payload_expired"


@pytest.mark.parametrize("who", ["patient", "reviewer", "pharmacist", "courier"])
async def test_only_the_doctor_gets_payloads_and_signs(
    client, world: World, db_session, who: str
) -> None:
    prescription_id = await _draft(client, world)
    content = (await _payload(client, world, prescription_id))["signed_content"]
    body = {"signed_content": content, "signature": world.phone.sign(content)}
    # A draft is the doctor's alone: to anyone else it does not exist (404), else 403.
    response = await client.get(f"{URL}/{prescription_id}/signing-payload", headers=world.as_(who))
    assert response.status_code in (403, 404)
    response = await client.post(f"{URL}/{prescription_id}/sign", json=body, headers=world.as_(who))
    assert response.status_code in (403, 404)
    assert await _unsigned(db_session, prescription_id)


async def test_a_revision_is_signed_again_on_the_phone(client, world: World) -> None:
    prescription_id = await signed(client, world)
    await ok(
        await client.post(
            f"{URL}/{prescription_id}/reject", json={"reason": "x"}, headers=world.as_("reviewer")
        )
    )
    first = await ok(await client.get(f"{URL}/{prescription_id}", headers=world.as_("doctor")))
    await ok(
        await client.post(
            f"{URL}/{prescription_id}/revise",
            json={"items": [{"drug_id": str(world.drugs.acarbose.id), "dose": "1",
                             "frequency": "tid", "days_supply": 7}]},
            headers=world.as_("doctor"),
        )
    )  # fmt: skip
    # The old signature is over the old lines: sending it again is refused.
    old = first["signature"]
    answer = await _send(client, world, prescription_id, old["signed_content"], old["signature"])
    assert answer["code"] == "signed_content_mismatch"
    sealed = await ok(
        await doctor_phone.sign(client, prescription_id, world.as_("doctor"), world.phone)
    )
    assert json.loads(sealed["signature"]["signed_content"])["items"][0]["drug_id"] == str(
        world.drugs.acarbose.id
    )


# --- after signing: every reliance re-verifies ------------------------------------------


async def test_a_changed_item_is_detected_on_read(client, world: World, db_session) -> None:
    prescription_id = await signed(client, world)
    await db_session.execute(
        update(PrescriptionItem)
        .where(PrescriptionItem.prescription_id == uuid.UUID(prescription_id))
        .values(packs=9, amount_fen=9 * 1580)
    )
    response = await client.get(f"{URL}/{prescription_id}", headers=world.as_("patient"))
    assert response.status_code == 409 and response.json()["code"] == "prescription_tampered"


async def test_a_changed_signed_content_is_detected(client, world: World, db_session) -> None:
    prescription_id = await signed(client, world)
    row = await db_session.get(Prescription, uuid.UUID(prescription_id))
    assert row is not None and row.signed_content is not None
    row.signed_content = row.signed_content.replace('"packs":1', '"packs":9')
    await db_session.flush()
    response = await client.get(f"{URL}/{prescription_id}", headers=world.as_("doctor"))
    assert response.json()["code"] == "prescription_tampered"


async def test_a_forged_signature_is_refused_at_review(client, world: World, db_session) -> None:
    prescription_id = await signed(client, world)
    row = await db_session.get(Prescription, uuid.UUID(prescription_id))
    assert row is not None and row.signature is not None
    raw = bytearray(base64.b64decode(row.signature))
    raw[0] ^= 0xFF
    row.signature = base64.b64encode(bytes(raw)).decode()
    await db_session.flush()
    response = await client.post(f"{URL}/{prescription_id}/approve", headers=world.as_("reviewer"))
    assert response.status_code == 409 and response.json()["code"] == "prescription_tampered"
    await db_session.refresh(row)
    assert row.status == "pending_review"


async def test_a_signature_outside_its_keys_active_time_is_refused_on_read(
    client, world: World, db_session
) -> None:
    prescription_id = await signed(client, world)
    row = await db_session.get(Prescription, uuid.UUID(prescription_id))
    assert row is not None and row.signed_at is not None
    key = await db_session.get(DoctorSigningKey, row.signing_key_id)
    assert key is not None
    key.activated_at = row.signed_at + timedelta(seconds=1)  # activated only after it "signed"
    await db_session.flush()
    response = await client.get(f"{URL}/{prescription_id}", headers=world.as_("patient"))
    assert response.status_code == 409 and response.json()["code"] == "prescription_tampered"


async def test_a_tampered_prescription_cannot_be_ordered(client, world: World, db_session) -> None:
    prescription_id = await signed(client, world)
    await ok(await client.post(f"{URL}/{prescription_id}/approve", headers=world.as_("reviewer")))
    row = await db_session.get(Prescription, uuid.UUID(prescription_id))
    assert row is not None
    row.total_fen = 1
    await db_session.flush()
    response = await client.get(
        f"{URL}/{prescription_id}/store-proposals", headers=world.as_("patient")
    )
    assert response.status_code == 409 and response.json()["code"] == "prescription_tampered"
