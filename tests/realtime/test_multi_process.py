"""Two uvicorn processes sharing Redis and a database: an event published outside a process
reaches its clients, whichever process each client is connected to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.realtime.hub import RedisHub
from tests.fixtures import databases
from tests.fixtures.servers import run_uvicorn
from tests.realtime.clients import User, authed, recv_json, sign_in, ws_url
from tests.realtime.conftest import requires_redis

pytestmark = [pytest.mark.redis, requires_redis]


@pytest.fixture(scope="module")
async def shared_database() -> AsyncIterator[tuple[str, User, User]]:
    """A migrated database both processes use, with two signed-in patients."""
    url = await databases.create_migrated_database()
    settings = Settings(APP_ENV=Environment.test, database_url=url)
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    alice, bob = await sign_in(sessionmaker, settings), await sign_in(sessionmaker, settings)
    await engine.dispose()
    yield url, alice, bob
    await databases.drop_database(url)


async def test_event_published_elsewhere_reaches_clients_on_both_processes(
    shared_database: tuple[str, User, User],
) -> None:
    url, alice, bob = shared_database
    assert databases.REDIS_URL
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": url,
        "REDIS_URL": databases.REDIS_URL,
        "OUTBOX_RELAY_ENABLED": "false",
        "FAKE_WECHAT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    # Publishing is stateless, so this hub publishes exactly as process 1's own hub would.
    publisher = RedisHub(databases.REDIS_URL)
    try:
        async with (
            run_uvicorn(env) as first,
            run_uvicorn(env) as second,
            authed(ws_url(second), alice) as alice_on_second,
            authed(ws_url(first), alice) as alice_on_first,
            authed(ws_url(second), bob) as bob_on_second,
        ):
            event = {"type": "alert.created", "alert_id": "a-42", "level": "critical"}
            await publisher.publish(alice.id, event)
            await publisher.publish(bob.id, {"type": "marker"})
            assert await recv_json(alice_on_second) == event
            assert await recv_json(alice_on_first) == event
            # Same subscriber connection in process 2, so a leak would arrive before the marker.
            assert await recv_json(bob_on_second) == {"type": "marker"}
    finally:
        await publisher.stop()
