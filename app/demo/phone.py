"""The demo doctors' phones (DEMO ONLY): the doctor app's side of prescription signing.

A real doctor app generates its Ed25519 key on the device and never lets it out. The demo has
no phones, so each demo doctor's key is derived from their username and a published constant:
anyone can recompute it, exactly as anyone can read the demo password. `seed-demo` registers
these keys as the doctors and activates them as the demo admin; the journey signs with them.
Never use this outside the demo (seed-demo refuses to run in prod).

This module is a client: the service itself imports it nowhere and holds no private key.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.prescription.signing import registration_statement

# Published on purpose: the demo doctors' keys are as public as their demo password.
DEMO_KEY_DERIVATION = b"chronic-care demo doctor phone, demo only, v1:"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class DemoPhone:
    """One demo doctor's phone: their derived key, and what the doctor app does with it."""

    def __init__(self, username: str) -> None:
        seed = hashlib.sha256(DEMO_KEY_DERIVATION + username.encode()).digest()
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.username = username

    @property
    def public_key(self) -> str:
        """The raw public key, base64 (what the service stores)."""
        return _b64(self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def fingerprint(self) -> str:
        """What the app shows the admin: SHA-256 of the raw public key, hex."""
        return hashlib.sha256(base64.b64decode(self.public_key)).hexdigest()

    def sign(self, content: str) -> str:
        """The doctor's explicit act: the base64 signature of `content` (UTF-8)."""
        return _b64(self._key.sign(content.encode()))

    def registration(self, doctor_id: uuid.UUID) -> dict[str, Any]:
        """The body the app sends to register this key, with its proof of possession."""
        statement = registration_statement(doctor_id, self.public_key)
        return {
            "algorithm": "Ed25519",
            "public_key": self.public_key,
            "proof": _b64(self._key.sign(statement)),
            "device_label": f"演示手机 demo phone ({self.username})",
        }

    def signature_for(self, payload: dict[str, Any]) -> dict[str, str]:
        """The body of POST .../sign for a signing payload the service handed out."""
        content = payload["signed_content"]
        return {"signed_content": content, "signature": self.sign(content)}
