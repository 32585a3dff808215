"""The doctor's phone in the tests: an Ed25519 key generated and used by libsodium (PyNaCl),
an implementation independent of the service's verifier (`cryptography`/OpenSSL). The
registration statement is built here from its documented form, not with the service's code."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from typing import Any

import httpx
from nacl.signing import SigningKey

API = "/api/v1"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class DoctorPhone:
    """A doctor app: holds its private key, hands out only the public half and signatures."""

    def __init__(self, seed: bytes | None = None) -> None:
        self._key = SigningKey(seed) if seed is not None else SigningKey.generate()

    @property
    def public_key(self) -> str:
        """The raw public key, base64."""
        return _b64(bytes(self._key.verify_key))

    @property
    def fingerprint(self) -> str:
        """What the app shows the admin: SHA-256 of the raw public key, hex."""
        return hashlib.sha256(bytes(self._key.verify_key)).hexdigest()

    @property
    def private_forms(self) -> list[str]:
        """Every printable form of the private key (for proving it is nowhere else)."""
        seed = bytes(self._key)
        full = seed + bytes(self._key.verify_key)  # libsodium's 64-byte secret key
        return [form for raw in (seed, full) for form in (_b64(raw), raw.hex(), raw.hex().upper())]

    def sign(self, content: str | bytes) -> str:
        """The base64 signature of `content` (a str is signed as its UTF-8 bytes)."""
        data = content.encode() if isinstance(content, str) else content
        return _b64(self._key.sign(data).signature)

    def registration(self, doctor_id: uuid.UUID, label: str | None = "测试手机") -> dict[str, Any]:
        """The body the app sends to register this key for `doctor_id`, with its proof."""
        statement = json.dumps(
            {
                "algorithm": "Ed25519",
                "doctor_id": str(doctor_id),
                "public_key": self.public_key,
                "purpose": "register_signing_key",
                "v": 1,
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        body: dict[str, Any] = {
            "algorithm": "Ed25519",
            "public_key": self.public_key,
            "proof": self.sign(statement),
        }
        if label is not None:
            body["device_label"] = label
        return body


async def payload(
    http: httpx.AsyncClient, prescription_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    """The signing payload of a draft (must answer 200)."""
    response = await http.get(
        f"{API}/prescriptions/{prescription_id}/signing-payload", headers=headers
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def sign(
    http: httpx.AsyncClient, prescription_id: str, headers: dict[str, str], phone: DoctorPhone
) -> httpx.Response:
    """The app's two steps: fetch the bytes to sign, sign them on the phone, send it back."""
    content = (await payload(http, prescription_id, headers))["signed_content"]
    return await http.post(
        f"{API}/prescriptions/{prescription_id}/sign",
        json={"signed_content": content, "signature": phone.sign(content)},
        headers=headers,
    )


async def register(
    http: httpx.AsyncClient, phone: DoctorPhone, doctor_id: uuid.UUID, headers: dict[str, str]
) -> dict[str, Any]:
    """The doctor app registers the phone's key (must answer 201): the pending key."""
    response = await http.post(
        f"{API}/doctors/me/signing-keys", json=phone.registration(doctor_id), headers=headers
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def activate(
    http: httpx.AsyncClient, phone: DoctorPhone, key_id: str, admin: dict[str, str]
) -> dict[str, Any]:
    """An admin activates the key with the fingerprint the phone shows (must answer 200)."""
    response = await http.post(
        f"{API}/signing-keys/{key_id}/activate",
        json={"fingerprint": phone.fingerprint},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data
