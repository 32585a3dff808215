"""The service cannot sign for a doctor: no private key is stored anywhere it can read (every
column of every table, decrypted where encrypted, and every setting), and no module of the
service can make an Ed25519 signature."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey
from pydantic import SecretStr
from sqlalchemy import inspect, select

import app
from app.config import Settings
from app.models import Base, DoctorSigningKey, Role
from tests.fixtures import factories
from tests.prescription import phone as doctor_phone
from tests.prescription.phone import DoctorPhone
from tests.prescription.world import World, signed

_B64 = re.compile(r"[A-Za-z0-9+/_-]{43,}={0,2}")
_HEX = re.compile(r"\b[0-9a-fA-F]{64,128}\b")


def _strings(value: Any) -> Iterator[str]:
    """Every string inside a column value or setting (nested JSON and bytes included)."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("latin-1")
        yield base64.b64encode(value).decode()
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _strings(item)
    elif value is not None:
        yield str(value)


def _candidate_seeds(text: str) -> Iterator[bytes]:
    """Every 32-byte string some base64 or hex token of `text` decodes to (a 64-byte one is
    libsodium's secret key form: its first half is the seed)."""
    for token in _B64.findall(text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                raw = decode(token + "=" * (-len(token) % 4))
            except (binascii.Error, ValueError):
                continue
            if len(raw) in (32, 64):
                yield raw[:32]
    for token in _HEX.findall(text):
        raw = bytes.fromhex(token[: len(token) - len(token) % 2])
        if len(raw) in (32, 64):
            yield raw[:32]


async def _every_stored_string(db_session) -> list[str]:
    found: list[str] = []
    for table in Base.metadata.sorted_tables:
        for row in (await db_session.execute(select(table))).all():
            for value in row:
                found.extend(_strings(value))
    return found


async def test_the_signing_key_table_has_no_private_column(db_session) -> None:
    columns = await db_session.run_sync(
        lambda session: {c["name"] for c in inspect(session.connection()).get_columns(
            "doctor_signing_keys"
        )}
    )  # fmt: skip
    assert not {name for name in columns if "private" in name or "secret" in name}
    assert {"public_key", "registration_proof", "status"} <= columns


async def test_no_private_key_is_stored_anywhere_or_set_in_settings(
    client, world: World, db_session, settings: Settings
) -> None:
    # Keys through their whole life: registered, activated, rotated, and used to sign.
    await signed(client, world)
    admin = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.admin)
    )
    phones = [world.phone]
    for _ in range(2):
        phone = DoctorPhone()
        registered = await doctor_phone.register(
            client, phone, world.doctor.id, world.as_("doctor")
        )
        phones.append(phone)
    await doctor_phone.activate(client, phone, registered["id"], admin)
    public_keys = set(await db_session.scalars(select(DoctorSigningKey.public_key)))
    assert {p.public_key for p in phones} <= public_keys

    stored = await _every_stored_string(db_session)
    stored += list(_strings(settings.model_dump()))
    # The phones' private keys, in any printable form, are nowhere.
    for phone in phones:
        for form in phone.private_forms:
            assert not any(form in text for text in stored)
    # Nor is the private half of ANY registered key: no stored 32-byte value is the seed of
    # one of the public keys the service verifies with.
    seeds = {seed for text in stored for seed in _candidate_seeds(text)}
    assert seeds, "the scan reads encoded values (public keys at least)"
    derived = {base64.b64encode(bytes(SigningKey(seed).verify_key)).decode() for seed in seeds}
    assert derived & public_keys == set()


def test_no_service_module_can_make_an_ed25519_signature() -> None:
    # Signing primitives live only on the doctor's side: the demo doctors' phones.
    allowed = {Path(app.__file__).parent / "demo" / "phone.py"}
    signing_apis = re.compile(
        r"Ed25519PrivateKey|nacl\.signing|(?<!\w)SigningKey\b|crypto_sign(_seed)?_keypair|"
        r"crypto_sign\(|from_private_bytes"
    )
    offenders = [
        str(path)
        for path in Path(app.__file__).parent.rglob("*.py")
        if path not in allowed and signing_apis.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    importers = [
        str(path)
        for path in Path(app.__file__).parent.rglob("*.py")
        if "app.demo.phone" in path.read_text(encoding="utf-8") and path.parent.name != "demo"
    ]
    assert importers == []
