"""Field encryption (Fernet with key rotation) and blind indexes for encrypted identifiers."""

from __future__ import annotations

import hashlib
import hmac
from weakref import WeakKeyDictionary

from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import Dialect

from app.config import get_settings


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


# Each engine's cipher, by its dialect (what column types are handed): an engine encrypts with
# the keys of the settings it was made with (`app.db.create_engine` installs them).
_ciphers: WeakKeyDictionary[Dialect, FieldCipher] = WeakKeyDictionary()


def use_field_keys(dialect: Dialect, field_encryption_keys: str) -> None:
    """Encrypt through this engine's dialect with FIELD_ENCRYPTION_KEYS (comma-separated,
    newest first)."""
    _ciphers[dialect] = FieldCipher.of_setting(field_encryption_keys)


def field_cipher(dialect: Dialect) -> FieldCipher:
    """The cipher of the engine whose dialect this is."""
    try:
        return _ciphers[dialect]
    except KeyError:
        raise LookupError(
            "an engine without field keys: make it with app.db.create_engine"
        ) from None


def blind_index(value: str) -> str:
    """A keyed hash that lets equal identifiers be found and kept unique without decrypting."""
    key = get_settings().blind_index_key.encode()
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
