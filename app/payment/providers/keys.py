"""RSA key loading and RSA-SHA256 (PKCS#1 v1.5) signatures, as both providers use them."""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def load_private_key(pem: str) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM text."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("an RSA private key is required")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key from PEM text (a bare public key or an X.509 certificate)."""
    data = pem.encode()
    key: object = (
        x509.load_pem_x509_certificate(data).public_key()
        if b"BEGIN CERTIFICATE" in data
        else serialization.load_pem_public_key(data)
    )
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("an RSA public key is required")
    return key


def public_pem(private_key: rsa.RSAPrivateKey) -> str:
    """The PEM (SubjectPublicKeyInfo) of a private key's public half."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def sign_sha256(private_key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 SHA256withRSA signature of `message`."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def verify_sha256(public_key: rsa.RSAPublicKey, message: bytes, signature_b64: str) -> bool:
    """Whether `signature_b64` is a valid SHA256withRSA signature of `message`."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
