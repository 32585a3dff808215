"""Field encryption (Fernet with key rotation) and blind indexes for encrypted identifiers."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet

from app.config import get_settings


class FieldCipher:
    """Encrypts with the newest key; decrypts with any configured key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one field encryption key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the newest key."""
        return self._fernet.rotate(token.encode()).decode()


@lru_cache
def field_cipher() -> FieldCipher:
    """The process-wide cipher built from FIELD_ENCRYPTION_KEYS (comma-separated, newest first)."""
    keys = [k.strip() for k in get_settings().field_encryption_keys.split(",") if k.strip()]
    return FieldCipher(keys)


def blind_index(value: str) -> str:
    """A keyed hash that lets equal identifiers be found and kept unique without decrypting."""
    key = get_settings().blind_index_key.encode()
    return hmac.new(key, value.strip().upper().encode(), hashlib.sha256).hexdigest()
