"""Sockets per user are capped (WS_MAX_SOCKETS_PER_USER) on a real server, on the in-process
hub and on Redis (test_redis_socket_cap.py covers the leases over several processes)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from app.realtime.hub import CloseCode, InProcessHub
from tests.fixtures.servers import wait_until
from tests.realtime.clients import User, authed, close_of, opened
from tests.realtime.conftest import Gateway, RealtimeDb

StartGateway = Callable[..., AbstractAsyncContextManager[Gateway]]
TOO_MANY = (CloseCode.policy_violation, "too_many_connections")


async def refused(url: str, user: User) -> tuple[int | None, str | None]:
    """Sign in on a new socket and return how the server closed it."""
    async with opened(url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": user.token}))
        return await close_of(ws)


async def admitted(url: str, user: User) -> bool:
    """Whether a new socket of `user` gets past sign-in (it is closed again at once)."""
    try:
        async with authed(url, user):
            return True
    except ConnectionClosed:
        return False


async def answer_pings(ws: ClientConnection) -> None:
    """Keep a socket alive as an app does: answer every server ping until it closes."""
    with contextlib.suppress(ConnectionClosed):
        async for frame in ws:
            if json.loads(frame)["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))


async def test_one_socket_more_than_the_cap_is_closed_with_1008(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user, other = await realtime_db.user(), await realtime_db.user()
    async with start_gateway(ws_max_sockets_per_user=2) as gateway, AsyncExitStack() as stack:
        first = await stack.enter_async_context(authed(gateway.url, user))
        await stack.enter_async_context(authed(gateway.url, user))
        assert await refused(gateway.url, user) == TOO_MANY
        async with authed(gateway.url, other):
            pass  # per user: someone else is not held back
        await first.close()
        # The closed socket's place is free again (as soon as the server has seen the close).
        await wait_until(lambda: admitted(gateway.url, user), what="a socket after one closed")


async def test_the_in_process_cap_counts_distinct_sockets() -> None:
    hub, user = InProcessHub(), uuid.uuid4()
    assert await hub.acquire_socket(user, "a", 1, 60)
    assert await hub.acquire_socket(user, "a", 1, 60)  # the same socket again
    assert not await hub.acquire_socket(user, "b", 1, 60)
    await hub.release_socket(user, "a")
    assert await hub.acquire_socket(user, "b", 1, 60)
