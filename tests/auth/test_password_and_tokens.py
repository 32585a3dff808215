"""Staff password sign-in, refresh-token rotation and reuse detection, logout."""

from __future__ import annotations

import uuid
from datetime import timedelta

import jwt
import pytest

from app.authz.access_tokens import AccessClaims, decode_access_token, issue_access_token
from app.errors import Unauthorized
from app.kit.clock import shifted_by, utcnow
from app.models import AuthSession, Role
from tests.fixtures import factories


async def login(client, username: str, password: str = factories.PASSWORD):
    return await client.post(
        "/api/v1/auth/password-login", json={"username": username, "password": password}
    )


async def test_staff_signs_in_with_password(client, db_session) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    response = await login(client, doctor.username)
    assert response.status_code == 200
    assert response.json()["account"]["role"] == "doctor"
    assert response.json()["account"]["doctor_id"]


async def test_wrong_password_and_unknown_user_answer_the_same(client, db_session) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    wrong = await login(client, doctor.username, "wrong-password")
    unknown = await login(client, "nobody-here", "wrong-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"


async def test_disabled_account_cannot_sign_in(client, db_session) -> None:
    admin = await factories.account(db_session, Role.admin, is_active=False)
    response = await login(client, admin.username)
    assert response.status_code == 401
    assert response.json()["code"] == "account_disabled"


async def test_password_is_stored_as_argon2id(db_session) -> None:
    admin = await factories.account(db_session, Role.admin)
    assert admin.password_hash.startswith("$argon2id$")


async def test_access_token_opens_me(client, db_session) -> None:
    bureau = await factories.account(db_session, Role.bureau)
    tokens = (await login(client, bureau.username)).json()
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["role"] == "bureau"


async def test_refresh_rotates_the_token(client, db_session) -> None:
    admin = await factories.account(db_session, Role.admin)
    first = (await login(client, admin.username)).json()
    second = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    third = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
    )
    assert third.status_code == 200


def _after_the_grace(settings):
    """The clock moved past the window in which a repeated rotation is answered again."""
    return shifted_by(timedelta(seconds=settings.refresh_token_reuse_grace_seconds + 1))


async def test_reusing_a_rotated_refresh_token_revokes_the_family(
    client, db_session, settings
) -> None:
    admin = await factories.account(db_session, Role.admin)
    first = (await login(client, admin.username)).json()
    rotated = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    with _after_the_grace(settings):
        replay = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
    assert replay.status_code == 401
    assert replay.json()["code"] == "refresh_token_reused"
    # The legitimate holder's newer tokens died with the family.
    newer = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert newer.status_code == 401
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}
    )
    assert me.status_code == 401
    assert me.json()["code"] == "session_revoked"


async def test_reuse_revocation_is_persisted(client, db_session, settings) -> None:
    admin = await factories.account(db_session, Role.admin)
    first = (await login(client, admin.username)).json()
    await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    with _after_the_grace(settings):
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    from sqlalchemy import select

    sessions = (
        await db_session.scalars(select(AuthSession).where(AuthSession.account_id == admin.id))
    ).all()
    assert [s.revoked_reason for s in sessions] == ["refresh_token_reuse"]


async def test_logout_revokes_access_and_refresh(client, db_session) -> None:
    admin = await factories.account(db_session, Role.admin)
    tokens = (await login(client, admin.username)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401


async def test_unknown_refresh_token_is_refused(client) -> None:
    response = await client.post("/api/v1/auth/refresh", json={"refresh_token": "x" * 43})
    assert response.status_code == 401
    assert response.json()["code"] == "refresh_token_invalid"


async def test_expired_access_token_is_refused(client, db_session, settings) -> None:
    admin = await factories.account(db_session, Role.admin)
    headers = await factories.bearer(db_session, settings, admin)
    claims = jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})
    expired = issue_access_token(
        settings,
        AccessClaims(admin.id, __import__("uuid").UUID(claims["sid"]), "admin"),
        utcnow() - timedelta(hours=2),
    )
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


async def test_access_tokens_are_judged_by_the_service_clock(client, db_session, settings) -> None:
    admin = await factories.account(db_session, Role.admin)
    with shifted_by(timedelta(days=10)):  # a month-end rehearsal moves the service's clock
        ahead = await factories.bearer(db_session, settings, admin)
        assert (await client.get("/api/v1/auth/me", headers=ahead)).status_code == 200
    now = await factories.bearer(db_session, settings, admin)
    with shifted_by(timedelta(seconds=settings.access_token_ttl_seconds + 1)):
        response = await client.get("/api/v1/auth/me", headers=now)
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


def test_a_token_verified_before_is_judged_again_by_the_clock_and_the_current_key(
    settings,
) -> None:
    claims = AccessClaims(uuid.uuid4(), uuid.uuid4(), "patient")
    token = issue_access_token(settings, claims, utcnow())
    assert decode_access_token(settings, token) == claims
    assert decode_access_token(settings, token) == claims  # the verification is kept
    with (
        shifted_by(timedelta(seconds=settings.access_token_ttl_seconds + 1)),
        pytest.raises(Unauthorized),
    ):
        decode_access_token(settings, token)
    rotated = settings.model_copy(update={"jwt_secret": "a-rotated-secret-" + "x" * 32})
    with pytest.raises(Unauthorized):
        decode_access_token(rotated, token)
    moved = settings.model_copy(update={"jwt_issuer": "another-issuer"})
    with pytest.raises(Unauthorized):
        decode_access_token(moved, token)


async def test_token_signed_with_another_key_is_refused(client, db_session, settings) -> None:
    admin = await factories.account(db_session, Role.admin)
    headers = await factories.bearer(db_session, settings, admin)
    claims = jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})
    forged = jwt.encode(claims, "another-secret-another-secret-another", algorithm="HS256")
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_alg_none_token_is_refused(client, db_session, settings) -> None:
    admin = await factories.account(db_session, Role.admin)
    headers = await factories.bearer(db_session, settings, admin)
    claims = jwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {unsigned}"})
    assert response.status_code == 401


async def test_malformed_authorization_header_is_401(client) -> None:
    for value in ("Bearer", "Bearer not.a.jwt", "Basic abc", "garbage"):
        response = await client.get("/api/v1/auth/me", headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_disabling_an_account_ends_its_live_sessions(client, db_session, settings) -> None:
    courier = await factories.account(db_session, Role.courier)
    headers = await factories.bearer(db_session, settings, courier)
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    courier.is_active = False
    await db_session.flush()
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
