"""Access tokens: short-lived JWTs naming the account, its sign-in session and role. Sign-in
(app/auth) issues them; every request's principal is loaded from one."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt

from app.config import Settings
from app.errors import Unauthorized
from app.kit.clock import utcnow

_ALGORITHM = "HS256"


@dataclass(frozen=True)
class AccessClaims:
    account_id: uuid.UUID
    session_id: uuid.UUID
    role: str


def issue_access_token(settings: Settings, claims: AccessClaims, now: datetime) -> str:
    """A signed JWT naming the account, its sign-in session and role."""
    payload = {
        "iss": settings.jwt_issuer,
        "sub": str(claims.account_id),
        "sid": str(claims.session_id),
        "role": claims.role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=settings.access_token_ttl_seconds)).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, settings.jwt_secret, algorithm=_ALGORITHM)


# A phone sends the same access token with every request until it expires; verifying it
# (PyJWT prepares and checks the key on every call) was ~7 % of the CPU of a one-reading upload.
# Verified payloads are kept per (token, secret, issuer):
# the token's bytes are what was verified, so a cached entry proves the same thing, and the
# time window and the sign-in session are still checked on every request.
_VERIFIED_TOKENS = 4096


@lru_cache(maxsize=_VERIFIED_TOKENS)
def _verified_payload(token: str, secret: str, issuer: str) -> dict[str, Any]:
    payload: dict[str, Any] = jwt.decode(
        token,
        secret,
        algorithms=[_ALGORITHM],
        issuer=issuer,
        # PyJWT would judge exp/iat by the system clock; the service's clock is utcnow()
        # (tests and month-end rehearsals move it), and tokens are issued by that clock.
        options={
            "require": ["exp", "iat", "sub", "sid", "role", "iss"],
            "verify_exp": False,
            "verify_iat": False,
        },
    )
    return payload


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """The claims of a valid, unexpired access token; anything else is 401."""
    try:
        payload = _verified_payload(token, settings.jwt_secret, settings.jwt_issuer)
        now = utcnow().timestamp()
        if not int(payload["iat"]) <= now < int(payload["exp"]):
            raise Unauthorized("token_invalid")
        return AccessClaims(
            account_id=uuid.UUID(payload["sub"]),
            session_id=uuid.UUID(payload["sid"]),
            role=str(payload["role"]),
        )
    except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
        raise Unauthorized("token_invalid") from exc
