"""Doctors' signatures on prescriptions: Ed25519 over the canonical JSON of the prescription,
made on the doctor's own device. The service holds public keys only and cannot sign.

The doctor app asks for the bytes to sign (`payload`), signs them with the key it generated and
registered, and sends the signature back; `check_signature` accepts it only if the bytes are
exactly this draft's content now, the key is the doctor's active key and the signature verifies.
Every later reliance on the prescription rebuilds the content from the rows and verifies it
again (`verify`), including that the key was active when the content was signed.

Verification uses `cryptography` (OpenSSL). Public keys are checked with libsodium at
registration (`is_acceptable_public_key`): OpenSSL accepts small-order keys, under which anyone
can forge a signature the doctor could then disown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import crypto_core_ed25519_is_valid_point

from app.errors import Conflict
from app.models import ChronicDisease, DoctorSigningKey, Prescription, PrescriptionItem

ALGORITHM = "Ed25519"
FORMAT_VERSION = 1
REGISTRATION_PURPOSE = "register_signing_key"
# How long the bytes handed out for signing may be signed and sent back.
PAYLOAD_TTL = timedelta(minutes=10)
# Web processes' clocks may differ a little: a payload made by another one is not "future".
CLOCK_SKEW = timedelta(seconds=60)


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


def registration_statement(doctor_id: uuid.UUID, public_key_b64: str) -> bytes:
    """What a new key signs to prove that the registering doctor's device holds it."""
    return canonical_bytes(
        {
            "v": FORMAT_VERSION,
            "purpose": REGISTRATION_PURPOSE,
            "doctor_id": str(doctor_id),
            "algorithm": ALGORITHM,
            "public_key": public_key_b64,
        }
    )


def fingerprint(public_key_b64: str) -> str:
    """SHA-256 of the raw public key, lowercase hex: what the doctor's app shows and the admin
    checks before activating."""
    return hashlib.sha256(base64.b64decode(public_key_b64)).hexdigest()


def is_acceptable_public_key(public_key_b64: str) -> bool:
    """A canonical Ed25519 point of the main subgroup (libsodium): not small order, not the
    identity, so no signature under it can be made without the private key."""
    try:
        raw = base64.b64decode(public_key_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and bool(crypto_core_ed25519_is_valid_point(raw))


def signature_valid(public_key_b64: str, content: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` is a valid signature of `content` by `public_key_b64`."""
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
        public.verify(base64.b64decode(signature_b64, validate=True), content)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def was_active_at(key: DoctorSigningKey, moment: datetime) -> bool:
    """Whether the key was activated at `moment` and not yet retired or revoked."""
    if key.activated_at is None or moment < key.activated_at:
        return False
    ends = [end for end in (key.retired_at, key.revoked_at) if end is not None]
    return not ends or moment < min(ends)


@dataclass(frozen=True)
class Payload:
    """The bytes the doctor's device signs, and until when they may be signed."""

    key: DoctorSigningKey
    signed_at: datetime
    content: bytes

    @property
    def expires_at(self) -> datetime:
        """After this the signature is refused (a fresh payload is needed)."""
        return self.signed_at + PAYLOAD_TTL


def payload(
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    disease: ChronicDisease,
    key: DoctorSigningKey,
    now: datetime,
) -> Payload:
    """The canonical content of the draft as it stands, to be signed with `key` at `now`."""
    return Payload(
        key, now, canonical_bytes(signed_content(prescription, items, disease, now, key.id))
    )


def claimed_key_and_time(content: str) -> tuple[uuid.UUID, datetime]:
    """The key id and signing time that content sent back for signing names (409
    signed_content_mismatch when it is not signed content at all)."""
    try:
        parsed = json.loads(content)
        key_id = uuid.UUID(parsed["key_id"])
        signed_at = datetime.fromisoformat(parsed["signed_at"])
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise Conflict("signed_content_mismatch") from exc
    if signed_at.tzinfo is None:
        raise Conflict("signed_content_mismatch")
    return key_id, signed_at


def check_signature(
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    disease: ChronicDisease,
    key: DoctorSigningKey | None,
    content: str,
    signature_b64: str,
    now: datetime,
) -> None:
    """Refuse (409) a signature the doctor's device sent unless `key` is the prescribing
    doctor's active key, `content` is exactly this draft's canonical content signed with it in
    the last PAYLOAD_TTL, and the signature over those bytes verifies."""
    key_id, signed_at = claimed_key_and_time(content)
    if key is None or key.id != key_id or key.doctor_id != prescription.doctor_id:
        raise Conflict("signing_key_not_active")  # another doctor's key is as good as none
    if key.status == "pending":
        raise Conflict("signing_key_pending")
    if key.status == "revoked":
        raise Conflict("signing_key_revoked")
    if key.status != "active" or not was_active_at(key, signed_at):
        raise Conflict("signing_key_not_active")
    if not now - PAYLOAD_TTL <= signed_at <= now + CLOCK_SKEW:
        raise Conflict("signing_payload_expired")
    expected = canonical_bytes(signed_content(prescription, items, disease, signed_at, key.id))
    if content.encode() != expected:
        raise Conflict("signed_content_mismatch")
    if not signature_valid(key.public_key, expected, signature_b64):
        raise Conflict("signature_invalid")


def seal(
    prescription: Prescription, key: DoctorSigningKey, content: str, signature_b64: str
) -> None:
    """Store a checked signature on the prescription (the bytes, the signature, the key)."""
    _, signed_at = claimed_key_and_time(content)
    prescription.signed_content = content
    prescription.signature = signature_b64
    prescription.signing_key_id = key.id
    prescription.signed_at = signed_at


def clear_signature(prescription: Prescription) -> None:
    """Drop the signature of a prescription going back to draft (it must be signed again)."""
    prescription.signed_content = None
    prescription.signature = None
    prescription.signing_key_id = None
    prescription.signed_at = None


def verify(
    prescription: Prescription,
    items: Sequence[PrescriptionItem],
    disease: ChronicDisease,
    key: DoctorSigningKey | None,
) -> None:
    """Refuse (409 prescription_tampered) unless the stored signature is valid, made by the
    prescribing doctor's key while it was active, and the rows still say exactly what was
    signed."""
    stored = prescription.signed_content
    signed_at = prescription.signed_at
    if (
        stored is None
        or prescription.signature is None
        or signed_at is None
        or key is None
        or key.id != prescription.signing_key_id
        or key.doctor_id != prescription.doctor_id
        or not was_active_at(key, signed_at)
    ):
        raise Conflict("prescription_tampered")
    rebuilt = canonical_bytes(signed_content(prescription, items, disease, signed_at, key.id))
    content = stored.encode()
    if rebuilt != content or not signature_valid(key.public_key, content, prescription.signature):
        raise Conflict("prescription_tampered")
