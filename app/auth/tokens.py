"""Refresh tokens: opaque, stored hashed, rotated. (Access tokens, which every request's principal
is loaded from, are app/authz/access_tokens.py.)"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from app.config import Settings


def new_refresh_token() -> str:
    """A fresh opaque refresh token (256 bits)."""
    return secrets.token_urlsafe(32)


def successor_refresh_token(settings: Settings, token: str) -> str:
    """The refresh token that replaces `token` when it is rotated: derived from it with a
    server key (HMAC-SHA256), so a repeat of the same rotation within the grace window can be
    answered with the very same successor although only hashes are stored. Only a holder of
    `token` can ask for it, and only the server can compute it."""
    key = hmac.new(settings.jwt_secret.encode(), b"refresh-token-successor", hashlib.sha256)
    mac = hmac.new(key.digest(), token.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def hash_refresh_token(token: str) -> str:
    """Refresh tokens are stored only as their SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()
