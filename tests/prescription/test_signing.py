"""The doctor's Ed25519 signature seals the prescription: any later change is refused (409)."""

from __future__ import annotations

import base64
import json
import uuid

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import String, select, type_coerce, update

from app.models import DoctorSigningKey, Prescription, PrescriptionItem
from tests.prescription.world import World, ok, signed

URL = "/api/v1/prescriptions"


async def test_the_signature_verifies_with_the_doctors_public_key(client, world: World) -> None:
    prescription_id = await signed(client, world)
    data = await ok(await client.get(f"{URL}/{prescription_id}", headers=world.as_("doctor")))
    signature = data["signature"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(signature["public_key"]))
    # Raises InvalidSignature if the published bytes and signature do not match.
    public.verify(base64.b64decode(signature["signature"]), signature["signed_content"].encode())
    content = json.loads(signature["signed_content"])
    assert content["prescription_id"] == prescription_id
    assert content["items"][0]["packs"] == 1 and content["algorithm"] == "Ed25519"


async def test_each_doctor_signs_with_their_own_key(client, world: World, db_session) -> None:
    await signed(client, world)
    keys = (await db_session.scalars(select(DoctorSigningKey))).all()
    assert [k.doctor_id for k in keys] == [world.doctor.id]
    # The private key is stored encrypted (the column decrypts it; the raw value does not).
    raw = await db_session.scalar(
        select(type_coerce(DoctorSigningKey.private_key, String)).where(
            DoctorSigningKey.id == keys[0].id
        )
    )
    assert raw is not None and keys[0].private_key not in str(raw)


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
