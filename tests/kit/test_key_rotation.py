"""Rotating the field key re-encrypts stored identifiers so the old key can be retired."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import String, select, type_coerce

from app.kit import crypto
from app.kit.crypto import FieldCipher
from app.kit.key_rotation import rotate_encrypted_columns
from app.models import Base, Patient, Role
from tests.fixtures import factories


async def test_rotation_moves_every_value_to_the_new_key(db_session, monkeypatch) -> None:
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    monkeypatch.setattr(crypto, "field_cipher", lambda: FieldCipher([old_key]))
    monkeypatch.setattr("app.kit.types.field_cipher", lambda: FieldCipher([old_key]))
    account = await factories.account(db_session, Role.patient)
    patient = await factories.patient_of(db_session, account)
    patient.phone = "13700001234"
    await db_session.flush()

    both = FieldCipher([new_key, old_key])
    monkeypatch.setattr("app.kit.key_rotation.field_cipher", lambda: both)
    assert await rotate_encrypted_columns(db_session, Base.metadata) >= 1

    raw = await db_session.scalar(
        select(type_coerce(Patient.phone, String)).where(Patient.id == patient.id)
    )
    assert FieldCipher([new_key]).decrypt(raw) == "13700001234"
