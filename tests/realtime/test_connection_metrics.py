"""Open realtime sockets are counted (realtime_connections) while they are signed in."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from tests.fixtures.metrics import counted
from tests.fixtures.servers import wait_until
from tests.realtime.clients import authed, opened
from tests.realtime.conftest import Gateway, RealtimeDb


def _open_sockets() -> float:
    return counted("realtime_connections")


async def test_a_signed_in_socket_counts_until_it_closes(
    start_gateway: Callable[..., AbstractAsyncContextManager[Gateway]], realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    before = _open_sockets()
    async with start_gateway() as gateway:
        async with opened(gateway.url):
            # Not signed in yet: not counted.
            assert _open_sockets() == before
        async with authed(gateway.url, user):
            await wait_until(lambda: _open_sockets() == before + 1, what="socket counted")
        await wait_until(lambda: _open_sockets() == before, what="closed socket uncounted")
