"""The hubs without a websocket: local fan-out, event encoding, a RedisHub whose Redis is down."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from app.config import Environment, Settings
from app.realtime.hub import (
    InProcessHub,
    RealtimeUnavailable,
    RedisHub,
    create_hub,
    encode_event,
)
from tests.fixtures.servers import free_port
from tests.realtime.recording import RecordingConnection

# Channels of this run only, so parallel runs on one Redis never see each other's events.
PREFIX = f"rt-test-{uuid.uuid4().hex[:8]}:"


async def test_in_process_hub_delivers_to_every_connection_of_the_user_only() -> None:
    hub = InProcessHub()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    phone, tablet, bobs = RecordingConnection(), RecordingConnection(), RecordingConnection()
    await hub.register(alice, phone)
    await hub.register(alice, tablet)
    await hub.register(bob, bobs)
    await hub.publish(alice, {"type": "alert.created", "n": 1})
    assert phone.events == tablet.events == [{"type": "alert.created", "n": 1}]
    assert bobs.events == []


async def test_unregistered_connection_gets_nothing_more() -> None:
    hub = InProcessHub()
    user, connection = uuid.uuid4(), RecordingConnection()
    await hub.register(user, connection)
    await hub.unregister(user, connection)
    await hub.unregister(user, connection)  # idempotent
    await hub.publish(user, {"type": "late"})
    assert connection.events == []
    assert hub.local_connections(user) == 0


def test_events_are_encoded_as_json_with_uuids_and_times_as_strings() -> None:
    user, at = uuid.uuid4(), datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    text = encode_event({"type": "reading.created", "patient_id": user, "at": at})
    assert text == f'{{"type":"reading.created","patient_id":"{user}","at":"2025-01-02T03:04:05Z"}}'


def test_event_without_a_type_is_refused() -> None:
    with pytest.raises(ValueError, match="type"):
        encode_event({"alert_id": 1})


async def test_create_hub_picks_redis_only_when_redis_url_is_set() -> None:
    assert isinstance(create_hub(Settings(APP_ENV=Environment.test, redis_url=None)), InProcessHub)
    hub = create_hub(Settings(APP_ENV=Environment.test, redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(hub, RedisHub)
    assert hub.channel(uuid.UUID(int=7)) == f"rt:user:{uuid.UUID(int=7)}"
    await hub.stop()


@pytest.fixture
async def hub_without_redis() -> AsyncIterator[RedisHub]:
    """A RedisHub pointed at a port nobody listens on."""
    hub = RedisHub(f"redis://127.0.0.1:{free_port()}/0", channel_prefix=PREFIX)
    await hub.start()
    yield hub
    await hub.stop()


async def test_publish_while_redis_is_down_is_dropped_without_raising(
    hub_without_redis: RedisHub,
) -> None:
    before = REGISTRY.get_sample_value("realtime_publish_failures_total") or 0.0
    await hub_without_redis.publish(uuid.uuid4(), {"type": "alert.created"})
    assert REGISTRY.get_sample_value("realtime_publish_failures_total") == before + 1


async def test_register_while_redis_is_down_is_refused_and_leaves_nothing_behind(
    hub_without_redis: RedisHub,
) -> None:
    user = uuid.uuid4()
    with pytest.raises(RealtimeUnavailable):
        await hub_without_redis.register(user, RecordingConnection())
    assert hub_without_redis.local_connections(user) == 0
