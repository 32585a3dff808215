"""Doctors' signatures on prescriptions: Ed25519 per doctor (`cryptography`), over the canonical
JSON of the prescription; any later change to the rows or to the signed bytes is detected.

The private key never leaves the database unencrypted (field cipher, rotatable keys); a KMS or
HSM would replace `active_key`/`sign_bytes` without changing the signed format.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict
from app.kit.sql import add_unique
from app.models import ChronicDisease, DoctorSigningKey, Prescription, PrescriptionItem

ALGORITHM = "Ed25519"
FORMAT_VERSION = 1


def canonical_bytes(content: dict[str, Any]) -> bytes:
    """The one byte form of `content` that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def signed_content(
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    disease: ChronicDisease,
    signed_at: datetime,
    key_id: uuid.UUID,
) -> dict[str, Any]:
    """What the doctor's signature covers: everything that decides what is dispensed."""
    return {
        "v": FORMAT_VERSION,
        "prescription_id": str(prescription.id),
        "patient_id": str(prescription.patient_id),
        "doctor_id": str(prescription.doctor_id),
        "institution_id": str(prescription.institution_id),
        "entitlement_id": str(prescription.entitlement_id),
        "consultation_id": _str_or_none(prescription.consultation_id),
        "renewal_of_id": _str_or_none(prescription.renewal_of_id),
        "disease_code": disease.code,
        "diagnosis": prescription.diagnosis_zh,
        "is_long": prescription.is_long,
        "written_on": prescription.written_on.isoformat(),
        "valid_days": prescription.valid_days,
        "days_supply": prescription.days_supply,
        "total_fen": prescription.total_fen,
        "items": [
            {
                "line": item.line_no,
                "drug_id": str(item.drug_id),
                "dose": item.dose_quantity,
                "unit": item.dose_unit,
                "frequency": item.frequency,
                "route": item.route,
                "days_supply": item.days_supply,
                "packs": item.packs,
                "unit_price_fen": item.unit_price_fen,
                "amount_fen": item.amount_fen,
            }
            for item in sorted(items, key=lambda i: i.line_no)
        ],
        "signed_at": signed_at.isoformat(),
        "key_id": str(key_id),
        "algorithm": ALGORITHM,
    }


def _str_or_none(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


async def active_key(session: AsyncSession, doctor_id: uuid.UUID) -> DoctorSigningKey:
    """The doctor's current signing key, generated on first use (when two first signatures
    race, the one-active-key index keeps the first key and both sign with it)."""
    current = select(DoctorSigningKey).where(
        DoctorSigningKey.doctor_id == doctor_id, DoctorSigningKey.retired_at.is_(None)
    )
    key = await session.scalar(current)
    if key is not None:
        return key
    private = Ed25519PrivateKey.generate()
    key = DoctorSigningKey(
        doctor_id=doctor_id,
        algorithm=ALGORITHM,
        public_key=_b64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)),
        private_key=_b64(private.private_bytes_raw()),
    )
    if await add_unique(session, key):
        return key
    winner = await session.scalar(current)
    assert winner is not None, "the index refused the key, so an active one exists"
    return winner


def sign_bytes(key: DoctorSigningKey, content: bytes) -> str:
    """The base64 Ed25519 signature of `content` with `key`."""
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(key.private_key))
    return _b64(private.sign(content))


def signature_valid(public_key_b64: str, content: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` is a valid signature of `content` by `public_key_b64`."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(signature_b64, validate=True), content)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


async def sign_prescription(
    session: AsyncSession,
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    disease: ChronicDisease,
    signed_at: datetime,
) -> None:
    """Sign the prescription's canonical content with its doctor's key and store the proof."""
    key = await active_key(session, prescription.doctor_id)
    content = canonical_bytes(signed_content(prescription, items, disease, signed_at, key.id))
    prescription.signed_content = content.decode()
    prescription.signature = sign_bytes(key, content)
    prescription.signing_key_id = key.id
    prescription.signed_at = signed_at


def clear_signature(prescription: Prescription) -> None:
    """Drop the signature of a prescription going back to draft (it must be signed again)."""
    prescription.signed_content = None
    prescription.signature = None
    prescription.signing_key_id = None
    prescription.signed_at = None


async def verify_prescription(
    session: AsyncSession,
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    disease: ChronicDisease,
) -> DoctorSigningKey:
    """Refuse (409 prescription_tampered) unless the stored signature is valid and the rows
    still say exactly what was signed; returns the key it was signed with."""
    stored = prescription.signed_content
    key = (
        await session.get(DoctorSigningKey, prescription.signing_key_id)
        if prescription.signing_key_id is not None
        else None
    )
    if (
        stored is None
        or prescription.signature is None
        or prescription.signed_at is None
        or key is None
        or key.doctor_id != prescription.doctor_id
    ):
        raise Conflict("prescription_tampered")
    rebuilt = canonical_bytes(
        signed_content(prescription, items, disease, prescription.signed_at, key.id)
    )
    content = stored.encode()
    if rebuilt != content or not signature_valid(key.public_key, content, prescription.signature):
        raise Conflict("prescription_tampered")
    return key


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
