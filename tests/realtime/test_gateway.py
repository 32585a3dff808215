"""The /ws gateway on a real uvicorn server: auth handshake, delivery, heartbeats, lifetime cap
and back-pressure. Every test runs on the in-process hub and, with TEST_REDIS_URL, on Redis."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from app.auth import repository as auth_repository
from app.authz.access_tokens import decode_access_token
from app.kit.clock import utcnow
from app.realtime.hub import CloseCode, RealtimeHub
from tests.fixtures.servers import free_port
from tests.realtime.clients import authed, close_of, opened, recv_json
from tests.realtime.conftest import Gateway, RealtimeDb

StartGateway = Callable[..., AbstractAsyncContextManager[Gateway]]


def hub_of(gateway: Gateway) -> RealtimeHub:
    hub = gateway.app.state.hub
    assert isinstance(hub, RealtimeHub)
    return hub


async def test_valid_auth_message_gets_ready_with_the_connection_limits(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    settings = {"ws_heartbeat_seconds": 7.5, "ws_max_lifetime_seconds": 600}
    async with start_gateway(**settings) as gateway, opened(gateway.url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": user.token}))
        ready = await recv_json(ws)
    assert ready == {
        "type": "ready",
        "user_id": str(user.id),
        "heartbeat_seconds": 7.5,
        "max_lifetime_seconds": 600,
    }


async def test_first_message_other_than_auth_closes_with_4401(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    async with start_gateway() as gateway, opened(gateway.url) as ws:
        await ws.send(json.dumps({"type": "pong"}))
        assert await close_of(ws) == (CloseCode.auth_failed, "auth_required")


async def test_malformed_first_message_closes_with_4401(start_gateway: StartGateway) -> None:
    async with start_gateway() as gateway, opened(gateway.url) as ws:
        await ws.send("not json")
        assert await close_of(ws) == (CloseCode.auth_failed, "auth_required")


async def test_bad_token_closes_with_4401(start_gateway: StartGateway) -> None:
    async with start_gateway() as gateway, opened(gateway.url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": "not-a-jwt"}))
        assert await close_of(ws) == (CloseCode.auth_failed, "token_invalid")


async def test_token_of_a_revoked_session_closes_with_4401(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    claims = decode_access_token(realtime_db.settings, user.token)
    async with realtime_db.sessionmaker() as session:
        await auth_repository.revoke_session(session, claims.session_id, "logout", utcnow())
        await session.commit()
    async with start_gateway() as gateway, opened(gateway.url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": user.token}))
        assert await close_of(ws) == (CloseCode.auth_failed, "session_revoked")


async def test_token_in_the_url_is_ignored_and_silence_times_out_with_4401(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    async with start_gateway(ws_auth_timeout_seconds=0.3) as gateway:
        url = f"{gateway.url}?token={user.token}&access_token={user.token}"
        headers = {"Authorization": f"Bearer {user.token}"}
        async with opened(url, additional_headers=headers) as ws:
            assert await close_of(ws) == (CloseCode.auth_failed, "auth_timeout")
            assert hub_of(gateway).local_connections(user.id) == 0


async def test_connection_is_refused_with_1013_while_redis_is_unreachable(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    async with start_gateway(redis_url=dead_redis) as gateway, opened(gateway.url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": user.token}))
        assert await close_of(ws) == (CloseCode.unavailable, "realtime_unavailable")
        assert hub_of(gateway).local_connections(user.id) == 0


async def test_event_reaches_every_connection_of_its_user_and_no_one_else(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    alice, bob = await realtime_db.user(), await realtime_db.user()
    event = {"type": "alert.created", "alert_id": "a-1", "level": "high"}
    async with (
        start_gateway() as gateway,
        authed(gateway.url, alice) as phone,
        authed(gateway.url, alice) as tablet,
        authed(gateway.url, bob) as bobs,
    ):
        hub = hub_of(gateway)
        await hub.publish(alice.id, event)
        # Published after Alice's event on the same path, so it would queue behind a leak.
        await hub.publish(bob.id, {"type": "marker"})
        assert await recv_json(phone) == event
        assert await recv_json(tablet) == event
        assert await recv_json(bobs) == {"type": "marker"}


async def test_unknown_message_type_is_answered_without_closing(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    async with start_gateway() as gateway, authed(gateway.url, user) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": "everything"}))
        assert await recv_json(ws) == {"type": "error", "code": "unknown_message_type"}
        await ws.send("{broken")
        assert await recv_json(ws) == {"type": "error", "code": "invalid_message"}
        await hub_of(gateway).publish(user.id, {"type": "still.open"})
        assert await recv_json(ws) == {"type": "still.open"}


async def test_server_pings_and_closes_a_silent_client_with_4408(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    async with start_gateway(ws_heartbeat_seconds=0.2) as gateway, authed(gateway.url, user) as ws:
        ping = await recv_json(ws)
        assert ping["type"] == "ping"
        assert isinstance(ping["ts"], int)
        assert await close_of(ws) == (CloseCode.heartbeat_timeout, "heartbeat_timeout")
        assert hub_of(gateway).local_connections(user.id) == 0


async def test_client_answering_pings_stays_connected(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    async with start_gateway(ws_heartbeat_seconds=0.1) as gateway, authed(gateway.url, user) as ws:
        # Ten pings span five silence windows; each is answered.
        for _ in range(10):
            assert (await recv_json(ws))["type"] == "ping"
            await ws.send(json.dumps({"type": "pong"}))
        await hub_of(gateway).publish(user.id, {"type": "still.open"})
        frame = await recv_json(ws)
        while frame["type"] == "ping":
            frame = await recv_json(ws)
        assert frame == {"type": "still.open"}


async def test_connection_is_closed_with_4000_at_its_lifetime_cap(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    async with (
        start_gateway(ws_max_lifetime_seconds=0.3) as gateway,
        authed(gateway.url, user) as ws,
    ):
        assert await close_of(ws) == (CloseCode.lifetime_reached, "lifetime_reached")


async def test_slow_consumer_is_dropped_with_4429_without_delaying_others(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    slow, fast = await realtime_db.user(), await realtime_db.user()
    bulky: dict[str, Any] = {"type": "bulk", "padding": "x" * 65536}
    # max_queue=1: the slow client stops reading its socket after one frame, so the server's
    # writes back up into the kernel buffers and then into the bounded send queue. Without
    # compression, or the padding would shrink to nothing on the wire.
    async with (
        start_gateway(ws_send_queue_size=8) as gateway,
        authed(gateway.url, slow, max_queue=1, compression=None) as slow_ws,
        authed(gateway.url, fast) as fast_ws,
    ):
        hub = hub_of(gateway)
        for n in range(5000):  # far more than socket buffers hold (bounded, not timed)
            if hub.local_connections(slow.id) == 0:
                break
            await hub.publish(slow.id, bulky)
            await hub.publish(fast.id, {"type": "tick", "n": n})
            assert await recv_json(fast_ws) == {"type": "tick", "n": n}
        else:
            raise AssertionError("the slow client was never disconnected")
        assert n > 8  # it overflowed because it stopped reading, not on the first burst
        assert await close_of(slow_ws, within=30) == (
            CloseCode.send_queue_overflow,
            "send_queue_overflow",
        )
        await hub.publish(fast.id, {"type": "after"})
        assert await recv_json(fast_ws) == {"type": "after"}


async def test_open_socket_is_closed_within_a_beat_after_logout(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    claims = decode_access_token(realtime_db.settings, user.token)
    async with start_gateway(ws_heartbeat_seconds=0.2) as gateway, authed(gateway.url, user) as ws:
        async with realtime_db.sessionmaker() as session:
            await auth_repository.revoke_session(session, claims.session_id, "logout", utcnow())
            await session.commit()
        # The next beat (0.2 s) finds the session revoked, before the 0.4 s silence limit.
        assert await close_of(ws) == (CloseCode.auth_failed, "session_revoked")
