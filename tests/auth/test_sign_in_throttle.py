"""Password sign-in is throttled per client address and per username, failures in a row lock
the username with a doubling back-off (held in the database, so every process agrees), and the
argon2 work runs on a bounded pool that refuses a flood at once."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.auth.errors import SignInBusy
from app.auth.sign_in_guard import SignInGuard, sign_in_guard
from app.kit.clock import shifted_by
from app.models import Role, SignInFailure
from tests.fixtures import databases, factories
from tests.fixtures.servers import start_uvicorn


def _login(client, username: str, password: str = factories.PASSWORD, **headers: str):
    return client.post(
        "/api/v1/auth/password-login",
        json={"username": username, "password": password},
        headers=headers,
    )


def _use(app, settings, **changes) -> None:
    """Run the app under changed sign-in settings (the guard is rebuilt for them)."""
    app.state.settings = settings.model_copy(update=changes)


def _locked(response, within: int) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["code"] == "sign_in_locked"
    assert 0 < int(response.headers["Retry-After"]) <= within
    assert response.json()["retry_after_seconds"] == int(response.headers["Retry-After"])


async def test_thirty_wrong_passwords_then_the_right_one_is_refused(
    client, db_session, settings
) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    for _ in range(30):
        assert (await _login(client, doctor.username, "wrong")).status_code in (401, 429)
    _locked(await _login(client, doctor.username), settings.password_lockout_base_seconds * 64)


async def test_the_threshold_failure_locks_and_the_lock_refuses_the_right_password(
    client, db_session, settings
) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    for _ in range(settings.password_lockout_threshold):
        wrong = await _login(client, doctor.username, "wrong")
        assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    _locked(await _login(client, doctor.username), settings.password_lockout_base_seconds)


async def test_the_lock_ends_and_each_further_failure_doubles_it(
    client, db_session, settings
) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    base = settings.password_lockout_base_seconds
    for _ in range(settings.password_lockout_threshold):
        await _login(client, doctor.username, "wrong")
    with shifted_by(timedelta(seconds=base + 1)):
        assert (await _login(client, doctor.username, "wrong")).status_code == 401
        response = await _login(client, doctor.username)
        _locked(response, 2 * base)
        assert int(response.headers["Retry-After"]) > base
    with shifted_by(timedelta(seconds=base + 1 + 2 * base + 1)):
        assert (await _login(client, doctor.username)).status_code == 200


async def test_the_back_off_stops_at_the_maximum(app, client, db_session, settings) -> None:
    _use(app, settings, password_lockout_threshold=1, password_lockout_max_seconds=90)
    doctor = await factories.account(db_session, Role.doctor)
    elapsed, locks = 0, []
    for _ in range(4):  # 60 s, then 120 and 240 capped at 90
        with shifted_by(timedelta(seconds=elapsed)):
            assert (await _login(client, doctor.username, "wrong")).status_code == 401
            locked = await _login(client, doctor.username, "wrong")
        _locked(locked, 90)
        locks.append(int(locked.headers["Retry-After"]))
        elapsed += locks[-1] + 1
    # (a second or two may pass between the lock and the refusal on a busy machine)
    assert 55 <= locks[0] <= 60
    assert all(85 <= lock <= 90 for lock in locks[1:]), locks


async def test_a_success_forgets_the_failures(client, db_session, settings) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    almost = settings.password_lockout_threshold - 1
    for _ in range(almost):
        await _login(client, doctor.username, "wrong")
    assert (await _login(client, doctor.username)).status_code == 200
    for _ in range(almost):
        await _login(client, doctor.username, "wrong")
    assert (await _login(client, doctor.username)).status_code == 200


async def test_failures_older_than_the_memory_are_forgotten(client, db_session, settings) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    for _ in range(settings.password_lockout_threshold - 1):
        await _login(client, doctor.username, "wrong")
    with shifted_by(timedelta(seconds=settings.password_failure_memory_seconds + 1)):
        assert (await _login(client, doctor.username, "wrong")).status_code == 401
        failures = await db_session.scalar(
            select(SignInFailure.failures).where(SignInFailure.username_key == doctor.username)
        )
        assert failures == 1
        assert (await _login(client, doctor.username)).status_code == 200


async def test_an_unknown_username_locks_exactly_like_a_real_one(
    client, db_session, settings
) -> None:
    doctor = await factories.account(db_session, Role.doctor)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}"
    answers = {}
    for username in (doctor.username, unknown):
        statuses = []
        for _ in range(settings.password_lockout_threshold + 2):
            response = await _login(client, username, "wrong")
            statuses.append((response.status_code, response.json()["code"]))
        answers[username] = statuses
    assert answers[doctor.username] == answers[unknown]


async def test_changing_the_case_does_not_dodge_the_lock(client, db_session, settings) -> None:
    doctor = await factories.account(
        db_session, Role.doctor, username=f"Dr.Li-{secrets.token_hex(3)}"
    )
    for _ in range(settings.password_lockout_threshold):
        await _login(client, doctor.username.upper(), "wrong")
    _locked(await _login(client, doctor.username), settings.password_lockout_base_seconds)


async def test_one_address_is_throttled_across_usernames(app, client, db_session, settings) -> None:
    _use(app, settings, sign_in_rate_per_address="3/minute")
    for n in range(3):
        assert (await _login(client, f"guess-{n}", "wrong")).status_code == 401
    refused = await _login(client, "guess-4", "wrong")
    assert refused.status_code == 429
    assert refused.json()["code"] == "sign_in_throttled"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    # Even the right password of a real account waits: the address is over its limit.
    doctor = await factories.account(db_session, Role.doctor)
    assert (await _login(client, doctor.username)).status_code == 429


async def test_one_username_is_throttled_from_every_address(
    app, client, db_session, settings
) -> None:
    _use(app, settings, sign_in_rate_per_username="2/minute", password_lockout_threshold=100)
    doctor = await factories.account(db_session, Role.doctor)
    for _ in range(2):
        assert (await _login(client, doctor.username, "wrong")).status_code == 401
    refused = await _login(client, doctor.username)
    assert refused.status_code == 429 and refused.json()["code"] == "sign_in_throttled"


async def test_checks_beyond_the_hashing_queue_are_refused_at_once(settings) -> None:
    guard = SignInGuard(
        settings.model_copy(update={"password_hash_concurrency": 1, "password_hash_queue": 1})
    )
    try:
        running = [asyncio.create_task(guard.verify(None, "x")) for _ in range(2)]
        await asyncio.sleep(0)  # both have taken their slot (one hashing, one waiting)
        with pytest.raises(SignInBusy) as refused:
            await guard.verify(None, "x")
        assert refused.value.status == 503
        assert refused.value.extra == {"retry_after_seconds": 1}
        assert await asyncio.gather(*running) == [False, False]
        assert await guard.verify(None, "x") is False  # slots are given back
    finally:
        guard.close()


async def test_a_busy_answer_carries_retry_after(app, client, db_session, settings) -> None:
    _use(app, settings, password_hash_concurrency=1, password_hash_queue=0)
    guard = sign_in_guard(app.state)
    guard._hashes_in_flight = 1  # the one slot is taken by a check in progress
    doctor = await factories.account(db_session, Role.doctor)
    busy = await _login(client, doctor.username)
    assert busy.status_code == 503
    assert busy.json()["code"] == "sign_in_busy"
    assert busy.headers["Retry-After"] == "1"
    guard._hashes_in_flight = 0
    assert (await _login(client, doctor.username)).status_code == 200


@pytest.mark.postgres
async def test_the_lock_holds_on_every_process(served) -> None:
    async with served() as first, served() as second:
        doctor = await first.account(Role.doctor)
        threshold = first.settings.password_lockout_threshold
        wrong = await asyncio.gather(
            *(_login(first.http, doctor.username, "wrong") for _ in range(threshold))
        )
        assert all(r.status_code == 401 for r in wrong)
        _locked(
            await _login(second.http, doctor.username), first.settings.password_lockout_base_seconds
        )


@pytest.mark.postgres
async def test_a_burst_of_wrong_passwords_cannot_hide_the_right_one(served) -> None:
    async with served() as live:
        doctor = await live.account(Role.doctor)
        burst = [_login(live.http, doctor.username, "wrong") for _ in range(12)]
        answers = await asyncio.gather(*burst)
        assert {r.status_code for r in answers} <= {401, 429, 503}
        failures = sum(r.status_code == 401 for r in answers)
        assert failures >= live.settings.password_lockout_threshold
        assert (await _login(live.http, doctor.username)).status_code == 429


@pytest.mark.redis
async def test_the_address_limit_is_shared_through_redis(served) -> None:
    # A documentation address of its own, so counts of other runs in Redis cannot interfere.
    address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    limits = {"redis_url": databases.REDIS_URL, "sign_in_rate_per_address": "3/minute"}
    async with served(**limits) as first, served(**limits) as second:
        forwarded = {"X-Forwarded-For": address}
        for http in (first.http, second.http, first.http):
            assert (
                await _login(http, f"guess-{uuid.uuid4().hex}", "x", **forwarded)
            ).status_code == 401
        refused = await _login(second.http, "guess-last", "x", **forwarded)
        assert refused.status_code == 429 and refused.json()["code"] == "sign_in_throttled"


async def test_a_forged_forwarded_for_does_not_dodge_the_address_limit(tmp_path) -> None:
    url = await databases.create_migrated_database()
    try:
        env = {
            "APP_ENV": "test",
            "DATABASE_URL": url,
            "OUTBOX_RELAY_ENABLED": "false",
            "FORWARDED_ALLOW_IPS": "192.0.2.1",  # the balancer; this test is not it
            "SIGN_IN_RATE_PER_ADDRESS": "3/minute",
        }
        async with (
            start_uvicorn(env, via_cli=True) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        ):
            statuses = []
            for n in range(5):
                forged = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
                statuses.append((await _login(http, f"guess-{n}", "x", **forged)).status_code)
        assert statuses == [401, 401, 401, 429, 429]
    finally:
        await databases.drop_database(url)
