"""Two refreshes of the same token at the same moment (two tabs, a retry after a lost answer)
get the same successor; a repeat after the grace window is reuse and ends the session."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from app.kit.clock import shifted_by
from app.models import Role
from tests.fixtures import factories


async def _signed_in(client, db_session) -> dict:
    admin = await factories.account(db_session, Role.admin)
    response = await client.post(
        "/api/v1/auth/password-login",
        json={"username": admin.username, "password": factories.PASSWORD},
    )
    assert response.status_code == 200
    return response.json()


def _refresh(client, token: str):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


async def test_a_repeat_within_the_grace_gets_the_same_successor(client, db_session) -> None:
    first = await _signed_in(client, db_session)
    rotated = await _refresh(client, first["refresh_token"])
    repeated = await _refresh(client, first["refresh_token"])
    assert rotated.status_code == repeated.status_code == 200
    assert repeated.json()["refresh_token"] == rotated.json()["refresh_token"]
    assert repeated.json()["refresh_expires_in"] <= rotated.json()["refresh_expires_in"]
    # Both answers' access tokens open the (still live) session.
    for answer in (rotated, repeated):
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200


async def test_the_shared_successor_rotates_on_as_usual(client, db_session) -> None:
    first = await _signed_in(client, db_session)
    successor = (await _refresh(client, first["refresh_token"])).json()["refresh_token"]
    await _refresh(client, first["refresh_token"])
    onward = await _refresh(client, successor)
    assert onward.status_code == 200
    assert onward.json()["refresh_token"] not in (successor, first["refresh_token"])


async def test_a_repeat_just_after_the_grace_revokes_the_family(
    client, db_session, settings
) -> None:
    first = await _signed_in(client, db_session)
    successor = (await _refresh(client, first["refresh_token"])).json()["refresh_token"]
    late = timedelta(seconds=settings.refresh_token_reuse_grace_seconds + 0.5)
    with shifted_by(late):
        replay = await _refresh(client, first["refresh_token"])
        assert replay.status_code == 401
        assert replay.json()["code"] == "refresh_token_reused"
        assert (await _refresh(client, successor)).status_code == 401


async def test_without_a_grace_every_repeat_is_reuse(app, client, db_session, settings) -> None:
    app.state.settings = settings.model_copy(update={"refresh_token_reuse_grace_seconds": 0})
    first = await _signed_in(client, db_session)
    assert (await _refresh(client, first["refresh_token"])).status_code == 200
    replay = await _refresh(client, first["refresh_token"])
    assert replay.status_code == 401 and replay.json()["code"] == "refresh_token_reused"


@pytest.mark.postgres
async def test_simultaneous_refreshes_all_get_one_successor_and_keep_the_session(served) -> None:
    async with served() as live:
        admin = await live.account(Role.admin)
        login = await live.http.post(
            "/api/v1/auth/password-login",
            json={"username": admin.username, "password": factories.PASSWORD},
        )
        token = login.json()["refresh_token"]
        answers = await asyncio.gather(*(_refresh(live.http, token) for _ in range(6)))
        assert [a.status_code for a in answers] == [200] * 6
        assert len({a.json()["refresh_token"] for a in answers}) == 1
        onward = await _refresh(live.http, answers[0].json()["refresh_token"])
        assert onward.status_code == 200
