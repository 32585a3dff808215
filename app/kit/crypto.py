"""Field encryption (Fernet with key rotation) and blind indexes for encrypted identifiers."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Dialect
from sqlalchemy.ext.asyncio import AsyncSession


class FieldCipher:
    """Encrypts with the newest key; decrypts with any configured key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one field encryption key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    @classmethod
    def of_setting(cls, field_encryption_keys: str) -> FieldCipher:
        """The cipher of FIELD_ENCRYPTION_KEYS (comma-separated, newest first)."""
        return cls([k.strip() for k in field_encryption_keys.split(",") if k.strip()])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the newest key."""
        return self._fernet.rotate(token.encode()).decode()


@dataclass(frozen=True)
class _DataKeys:
    """The keys of what one database stores: its encrypted columns and its blind indexes."""

    cipher: FieldCipher
    blind_index_key: bytes


# Each engine's keys, by its dialect (what column types are handed): an engine encrypts and
# indexes with the keys of the settings it was made with (`app.db.create_engine` installs them),
# so an index is always computed with the key of the database it is compared against.
_keys: WeakKeyDictionary[Dialect, _DataKeys] = WeakKeyDictionary()


def use_data_keys(dialect: Dialect, field_encryption_keys: str, blind_index_key: str) -> None:
    """Encrypt through this engine's dialect with FIELD_ENCRYPTION_KEYS (comma-separated,
    newest first) and index with BLIND_INDEX_KEY."""
    _keys[dialect] = _DataKeys(
        FieldCipher.of_setting(field_encryption_keys), blind_index_key.encode()
    )


def _keys_of(dialect: Dialect) -> _DataKeys:
    try:
        return _keys[dialect]
    except KeyError:
        raise LookupError(
            "an engine without data keys: make it with app.db.create_engine"
        ) from None


def field_cipher(dialect: Dialect) -> FieldCipher:
    """The cipher of the engine whose dialect this is."""
    return _keys_of(dialect).cipher


def blind_index(session: AsyncSession, value: str) -> str:
    """A keyed hash that lets equal identifiers be found and kept unique without decrypting,
    with the blind-index key of the session's engine."""
    key = _keys_of(session.get_bind().dialect).blind_index_key
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
