"""RedisHub against a real Redis: fan-out between hubs (as between processes), subscription
bookkeeping, and recovery after the listener's connection is lost."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.realtime.hub import CloseCode, RealtimeHub, RealtimeUnavailable, RedisHub
from tests.fixtures import databases
from tests.fixtures.servers import wait_until
from tests.realtime.conftest import requires_redis
from tests.realtime.recording import RecordingConnection

pytestmark = [pytest.mark.redis, requires_redis]

# Channels of this run only, so parallel runs on one Redis never see each other's events.
PREFIX = f"rt-test-{uuid.uuid4().hex[:8]}:"


async def register_when_listening(
    hub: RealtimeHub, user_id: uuid.UUID, connection: RecordingConnection
) -> None:
    """Register as soon as the hub's listener is connected (it connects in the background)."""

    async def registered() -> bool:
        try:
            await hub.register(user_id, connection)
        except RealtimeUnavailable:
            return False
        return True

    await wait_until(registered, what="hub listening on redis")


@pytest.fixture
async def redis_hubs() -> AsyncIterator[tuple[RedisHub, RedisHub, str]]:
    """A publishing and a holding hub on one Redis, as in two processes; the holder's name."""
    assert databases.REDIS_URL
    name = f"rt-test-{uuid.uuid4().hex[:8]}"
    hubs = [
        RedisHub(databases.REDIS_URL, channel_prefix=PREFIX, client_name=f"{name}-{role}")
        for role in ("publisher", "holder")
    ]
    for hub in hubs:
        await hub.start()
    yield hubs[0], hubs[1], f"{name}-holder"
    for hub in hubs:
        await hub.stop()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A plain client for looking at the server."""
    assert databases.REDIS_URL
    client = Redis.from_url(databases.REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


async def subscribers(redis: Redis, channel: str) -> int:
    counts = dict(await redis.pubsub_numsub(channel))
    return int(counts[channel])


async def test_event_published_by_one_hub_reaches_connections_held_by_another(
    redis_hubs: tuple[RedisHub, RedisHub, str],
) -> None:
    publisher, holder, _ = redis_hubs
    alice, bob = uuid.uuid4(), uuid.uuid4()
    alices, bobs = RecordingConnection(), RecordingConnection()
    await register_when_listening(holder, alice, alices)
    await holder.register(bob, bobs)
    await publisher.publish(alice, {"type": "chat.message", "text": "你好"})
    await publisher.publish(bob, {"type": "marker"})
    await wait_until(lambda: bool(bobs.events), what="marker delivered")
    # Redis delivers one subscriber connection's messages in publish order.
    assert alices.events == [{"type": "chat.message", "text": "你好"}]
    assert bobs.events == [{"type": "marker"}]


async def test_channel_is_subscribed_at_the_first_connection_and_dropped_at_the_last(
    redis_hubs: tuple[RedisHub, RedisHub, str], redis: Redis
) -> None:
    _, hub, _ = redis_hubs
    user = uuid.uuid4()
    channel = hub.channel(user)
    first, second = RecordingConnection(), RecordingConnection()
    assert await subscribers(redis, channel) == 0
    await register_when_listening(hub, user, first)
    # register returns only once Redis has confirmed the subscription
    assert await subscribers(redis, channel) == 1
    await hub.register(user, second)
    await hub.unregister(user, first)
    assert await subscribers(redis, channel) == 1
    await hub.unregister(user, second)
    await wait_until(lambda: _no_subscribers(redis, channel), what="unsubscribed")


async def _no_subscribers(redis: Redis, channel: str) -> bool:
    return await subscribers(redis, channel) == 0


async def test_listener_reconnects_after_losing_redis_and_connections_are_told_to_resync(
    redis_hubs: tuple[RedisHub, RedisHub, str], redis: Redis
) -> None:
    publisher, hub, name = redis_hubs
    user = uuid.uuid4()
    before = RecordingConnection()
    await register_when_listening(hub, user, before)
    listeners = [c for c in await redis.client_list(_type="pubsub") if c["name"] == name]
    assert len(listeners) == 1
    await redis.execute_command("CLIENT", "KILL", "ID", listeners[0]["id"])
    await wait_until(lambda: before.closed_with is not None, what="connection told to close")
    assert before.closed_with == (CloseCode.unavailable, "realtime_unavailable")
    await hub.unregister(user, before)  # as the gateway does when the socket closes

    after = RecordingConnection()
    await register_when_listening(hub, user, after)
    await publisher.publish(user, {"type": "after.reconnect"})
    await wait_until(lambda: bool(after.events), what="event after reconnect")
    assert after.events == [{"type": "after.reconnect"}]


async def test_register_waits_until_redis_confirms_the_subscription(redis: Redis) -> None:
    assert databases.REDIS_URL
    hub = RedisHub(databases.REDIS_URL, channel_prefix=PREFIX, subscribe_timeout_seconds=0.2)
    await hub.start()
    try:
        await register_when_listening(hub, uuid.uuid4(), RecordingConnection())
        # Briefly hold every Redis client (the whole server: keep it short), so no
        # confirmation can arrive: a registration that did not wait would pass here.
        await redis.execute_command("CLIENT", "PAUSE", "1000", "ALL")
        user = uuid.uuid4()
        with pytest.raises(RealtimeUnavailable):
            await hub.register(user, RecordingConnection())
        assert hub.local_connections(user) == 0
    finally:
        await redis.execute_command("CLIENT", "UNPAUSE")
        await hub.stop()
