"""Rotating the field key re-encrypts stored identifiers so the old key can be retired."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import String, bindparam, cast, select, type_coerce, update
from sqlalchemy.exc import DBAPIError

from app.db import create_engine
from app.kit import crypto
from app.kit.crypto import FieldCipher
from app.kit.key_rotation import rotate_encrypted_columns
from app.kit.types import EncryptedString
from app.models import Base, InsuredIdentity, Patient, Role
from tests.fixtures import factories


async def test_rotation_moves_every_value_to_the_new_key(db_session, monkeypatch, settings) -> None:
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    monkeypatch.setattr(crypto, "field_cipher", lambda dialect: FieldCipher([old_key]))
    monkeypatch.setattr("app.kit.types.field_cipher", lambda dialect: FieldCipher([old_key]))
    account = await factories.account(db_session, Role.patient)
    patient = await factories.patient_of(db_session, account)
    patient.phone = "13700001234"
    # The append-only identity tables hold encrypted certificate numbers too.
    identity = await factories.insured(db_session, patient)
    await db_session.flush()

    # The run's database may hold rows other tests committed under the run's own keys: the
    # rotation is configured, as in production, with every key still in use after the new one.
    in_use = [k.strip() for k in settings.field_encryption_keys.split(",") if k.strip()]
    both = FieldCipher([new_key, old_key, *in_use])
    monkeypatch.setattr("app.kit.key_rotation.field_cipher", lambda dialect: both)
    assert await rotate_encrypted_columns(db_session, Base.metadata) >= 1

    raw = await db_session.scalar(
        select(type_coerce(Patient.phone, String)).where(Patient.id == patient.id)
    )
    assert FieldCipher([new_key]).decrypt(raw) == "13700001234"
    number = await db_session.scalar(
        select(type_coerce(InsuredIdentity.national_id, String)).where(
            InsuredIdentity.id == identity.id
        )
    )
    assert FieldCipher([new_key]).decrypt(number) == identity.national_id


@pytest.mark.postgres
async def test_outside_a_rotation_an_identity_number_is_never_changed(db_session) -> None:
    # PostgreSQL, where the service runs. The embedded SQLite database of development guards
    # every other column of the row but admits a change of the encrypted one (migration 0020).
    account = await factories.account(db_session, Role.patient)
    identity = await factories.insured(db_session, await factories.patient_of(db_session, account))
    await db_session.flush()
    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(
                update(InsuredIdentity)
                .where(InsuredIdentity.id == identity.id)
                .values(national_id="140321197001011234")
            )


async def test_an_engine_encrypts_with_the_keys_of_the_settings_it_was_made_with(settings) -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = cast(bindparam("v", "13700001234", type_=EncryptedString()), String)
    tokens = {}
    for key in (key_a, key_b):
        engine = create_engine(settings.model_copy(update={"field_encryption_keys": key}))
        try:
            async with engine.connect() as connection:
                tokens[key] = await connection.scalar(select(stored))
        finally:
            await engine.dispose()
    assert FieldCipher([key_a]).decrypt(tokens[key_a]) == "13700001234"
    assert FieldCipher([key_b]).decrypt(tokens[key_b]) == "13700001234"
    with pytest.raises(InvalidToken):
        FieldCipher([key_a]).decrypt(tokens[key_b])
