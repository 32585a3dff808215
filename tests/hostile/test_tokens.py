"""Hostile bearer tokens against a write: malformed, forged, wrong algorithm, missing claims,
expired, from the future, replayed after logout. Each is 401 problem+json and writes nothing.

Refresh-token replay (the whole session revoked) is tests/auth/test_password_and_tokens.py's.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import jwt
import pytest

from app.kit.clock import shifted_by
from app.models import AuditEvent, AuthSession, Patient, Role
from tests.fixtures import factories
from tests.hostile.conftest import row_counts

PROFILE = "/api/v1/patients/me"
CHANGE = {"name": "篡改者"}
TABLES = (Patient, AuditEvent, AuthSession)


def _claims(headers: dict[str, str]) -> dict[str, Any]:
    token = headers["Authorization"].removeprefix("Bearer ")
    return jwt.decode(token, options={"verify_signature": False})


def _signed(settings, claims: dict[str, Any], algorithm: str = "HS256") -> str:
    return jwt.encode(claims, settings.jwt_secret, algorithm=algorithm)


def _without(claim: str) -> Callable[[Any, dict[str, Any]], str]:
    return lambda settings, claims: _signed(
        settings, {k: v for k, v in claims.items() if k != claim}
    )


# Each builds a token from a live session's real claims.
FORGERIES: dict[str, Callable[[Any, dict[str, Any]], str]] = {
    "garbage": lambda settings, claims: "garbage",
    "three dots": lambda settings, claims: "a.b.c",
    "alg none": lambda settings, claims: jwt.encode(claims, None, algorithm="none"),
    "HS512 with the right key": lambda settings, claims: _signed(settings, claims, "HS512"),
    "another key": lambda settings, claims: jwt.encode(claims, "k" * 48, algorithm="HS256"),
    "another issuer": lambda settings, claims: _signed(settings, {**claims, "iss": "evil"}),
    "subject not a uuid": lambda settings, claims: _signed(settings, {**claims, "sub": "admin"}),
    "unknown session": lambda settings, claims: _signed(
        settings, {**claims, "sid": str(uuid.uuid4())}
    ),
    "another account's session": lambda settings, claims: _signed(
        settings, {**claims, "sub": str(uuid.uuid4())}
    ),
    "from the future": lambda settings, claims: _signed(
        settings, {**claims, "iat": claims["iat"] + 3600, "exp": claims["exp"] + 3600}
    ),
    "expired": lambda settings, claims: _signed(
        settings, {**claims, "iat": claims["iat"] - 3600, "exp": claims["iat"] - 1}
    ),
    **{f"no {claim}": _without(claim) for claim in ("exp", "iat", "sub", "sid", "role", "iss")},
}


def _refused(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] in {"token_invalid", "session_revoked"}


@pytest.fixture
async def patient(db_session, settings) -> tuple[Patient, dict[str, str]]:
    account = await factories.account(db_session, Role.patient)
    return await factories.patient_of(db_session, account), await factories.bearer(
        db_session, settings, account
    )


# The HS512 forgery uses the service's key, shorter than HS512 wants: that is the point.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_a_forged_or_malformed_token_writes_nothing(
    client, db_session, settings, patient, forgery
) -> None:
    row, headers = patient
    token = FORGERIES[forgery](settings, _claims(headers))
    before = await row_counts(db_session, *TABLES)
    response = await client.patch(
        PROFILE, json=CHANGE, headers={"Authorization": f"Bearer {token}"}
    )
    _refused(response)
    assert await row_counts(db_session, *TABLES) == before
    await db_session.refresh(row)
    assert row.name != CHANGE["name"]


async def test_the_genuine_token_is_what_the_forgeries_were_made_from(client, patient) -> None:
    """The control: the same write with the real token succeeds (so each refusal above is the
    token's doing)."""
    _, headers = patient
    response = await client.patch(PROFILE, json=CHANGE, headers=headers)
    assert response.status_code == 200 and response.json()["name"] == CHANGE["name"]


async def test_a_token_expires_by_the_service_clock(client, db_session, settings, patient) -> None:
    _, headers = patient
    before = await row_counts(db_session, *TABLES)
    with shifted_by(timedelta(seconds=settings.access_token_ttl_seconds + 1)):
        response = await client.patch(PROFILE, json=CHANGE, headers=headers)
    _refused(response)
    assert await row_counts(db_session, *TABLES) == before


async def test_a_token_replayed_after_logout_writes_nothing(client, db_session, patient) -> None:
    row, headers = patient
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    before = await row_counts(db_session, *TABLES)
    for _ in range(2):
        response = await client.patch(PROFILE, json=CHANGE, headers=headers)
        _refused(response)
        assert response.json()["code"] == "session_revoked"
    assert await row_counts(db_session, *TABLES) == before
    await db_session.refresh(row)
    assert row.name != CHANGE["name"]


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer\tx", "x" * 5000]
)
async def test_a_malformed_authorization_header_writes_nothing(client, db_session, header) -> None:
    before = await row_counts(db_session, *TABLES)
    response = await client.patch(PROFILE, json=CHANGE, headers={"Authorization": header})
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert await row_counts(db_session, *TABLES) == before
