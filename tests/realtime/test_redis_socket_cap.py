"""The socket cap over several processes: a lease per socket in Redis, shared by every process,
renewed by the socket's heartbeat; a crashed process's sockets stop holding theirs."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.realtime.hub import RedisHub
from tests.faults.conftest import service_env
from tests.fixtures import databases
from tests.fixtures.servers import start_uvicorn, wait_until
from tests.realtime.clients import User, authed, close_of, sign_in, ws_url
from tests.realtime.conftest import requires_redis
from tests.realtime.test_socket_cap import TOO_MANY, admitted, answer_pings, refused

pytestmark = [pytest.mark.redis, requires_redis]

Hubs = tuple[RedisHub, RedisHub, uuid.UUID]


@pytest.fixture
async def lease_hubs() -> AsyncIterator[Hubs]:
    """Two Redis hubs as in two processes, on keys of this test only, and a user."""
    assert databases.REDIS_URL
    prefix = f"rt-test-{uuid.uuid4().hex[:8]}:"
    one = RedisHub(databases.REDIS_URL, channel_prefix=prefix)
    two = RedisHub(databases.REDIS_URL, channel_prefix=prefix)
    yield one, two, uuid.uuid4()
    await one.stop()
    await two.stop()


async def test_redis_leases_cap_sockets_over_processes(lease_hubs: Hubs) -> None:
    one, two, user = lease_hubs
    assert await one.acquire_socket(user, "a", 2, 60)
    assert await two.acquire_socket(user, "b", 2, 60)
    assert not await one.acquire_socket(user, "c", 2, 60)
    await two.release_socket(user, "b")
    assert await one.acquire_socket(user, "c", 2, 60)


async def test_a_lease_not_renewed_lapses_and_a_renewed_one_holds(lease_hubs: Hubs) -> None:
    one, two, user = lease_hubs
    assert await one.acquire_socket(user, "renewed", 2, 0.5)
    assert await one.acquire_socket(user, "crashed", 2, 0.5)
    for _ in range(4):  # the live socket's heartbeat renews it; the crashed one's does not
        await asyncio.sleep(0.2)
        await one.renew_socket(user, "renewed", 0.5)
    assert await two.acquire_socket(user, "new", 2, 0.5)
    assert not await two.acquire_socket(user, "one-too-many", 2, 0.5)


@pytest.fixture(scope="module")
async def shared_database() -> AsyncIterator[tuple[str, User]]:
    """A database two processes share, with a signed-in patient."""
    url = await databases.create_migrated_database()
    settings = Settings(APP_ENV=Environment.test, database_url=url)
    engine = create_engine(settings)
    user = await sign_in(create_sessionmaker(engine), settings)
    await engine.dispose()
    yield url, user
    await databases.drop_database(url)


async def test_the_cap_holds_over_two_processes_and_frees_a_killed_ones_sockets(
    shared_database: tuple[str, User],
) -> None:
    url, user = shared_database
    assert databases.REDIS_URL
    # Leases lapse three heartbeats (6 s) after their process stops renewing them; shorter
    # heartbeats let a live socket's lease lapse while a loaded machine delays its renewal.
    env = service_env(
        url, redis_url=databases.REDIS_URL, ws_max_sockets_per_user="2", ws_heartbeat_seconds="2"
    )
    async with (
        start_uvicorn(env) as first,
        start_uvicorn(env) as second,
        AsyncExitStack() as stack,
    ):
        on_first = await stack.enter_async_context(authed(ws_url(first.url), user))
        on_second = await stack.enter_async_context(authed(ws_url(second.url), user))
        # Both sockets answer pings as apps do, so neither is closed for a missed heartbeat
        # while the machine is slow: only the kill may free a place.
        alive = asyncio.create_task(answer_pings(on_first))
        second_alive = asyncio.create_task(answer_pings(on_second))
        try:
            assert await refused(ws_url(first.url), user) == TOO_MANY
            assert await refused(ws_url(second.url), user) == TOO_MANY
            second_alive.cancel()  # close_of reads the socket next: one reader at a time
            with contextlib.suppress(asyncio.CancelledError):
                await second_alive
            await second.kill()  # no close, no release: its lease must lapse by itself
            await close_of(on_second)
            await wait_until(
                lambda: admitted(ws_url(first.url), user),
                within=30,
                interval=0.3,
                what="the killed process's lease lapsing",
            )
            # Still capped: the socket on the first process kept its lease alive meanwhile.
            assert not alive.done()
            async with authed(ws_url(first.url), user):
                assert await refused(ws_url(first.url), user) == TOO_MANY
        finally:
            alive.cancel()
            second_alive.cancel()
