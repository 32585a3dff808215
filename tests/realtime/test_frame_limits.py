"""Frame limits of /ws on real servers: size before and after sign-in (1009), JSON nesting
(1008), and the server as operators start it refusing a huge first frame before reading it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from websockets.exceptions import ConnectionClosed

from app.realtime.gateway import FrameRefused, decode_frame
from app.realtime.hub import CloseCode
from tests.faults.conftest import service_env
from tests.fixtures.servers import start_uvicorn
from tests.realtime.clients import authed, close_of, opened, recv_json, ws_url
from tests.realtime.conftest import Gateway, RealtimeDb

StartGateway = Callable[..., AbstractAsyncContextManager[Gateway]]
TOO_BIG = (CloseCode.message_too_big, "frame_too_large")
TOO_DEEP = (CloseCode.policy_violation, "nesting_too_deep")


def nested(depth: int) -> str:
    """A JSON array nested `depth` levels deep."""
    return "[" * depth + "]" * depth


async def test_a_first_frame_over_the_sign_in_limit_closes_with_1009(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    padded = json.dumps({"type": "auth", "token": user.token, "pad": "x" * 5000})
    async with start_gateway(ws_auth_frame_max_bytes=4096) as gateway, opened(gateway.url) as ws:
        await ws.send(padded)
        assert await close_of(ws) == TOO_BIG


async def test_a_frame_over_the_limit_after_sign_in_closes_with_1009(
    start_gateway: StartGateway, realtime_db: RealtimeDb
) -> None:
    user = await realtime_db.user()
    async with start_gateway(ws_frame_max_bytes=8192) as gateway:
        async with authed(gateway.url, user) as ws:
            await ws.send(json.dumps({"type": "ping", "pad": "x" * 4000}))  # within: answered
            assert (await recv_json(ws))["type"] == "pong"
            # Measured in bytes: 3,000 Chinese characters are 9,000 bytes of UTF-8.
            await ws.send(json.dumps({"type": "ping", "pad": "血" * 3000}, ensure_ascii=False))
            assert await close_of(ws) == TOO_BIG
        async with authed(gateway.url, user):
            pass  # the server serves on


@pytest.mark.parametrize("depth", [20, 20_000])
async def test_a_deeply_nested_frame_closes_with_1008_and_the_server_serves_on(
    start_gateway: StartGateway, realtime_db: RealtimeDb, depth: int
) -> None:
    user = await realtime_db.user()
    frame = '{"type": "chat.sync", "ref": ' + nested(depth) + "}"
    async with start_gateway() as gateway:
        async with authed(gateway.url, user) as ws:
            await ws.send(frame)
            assert await close_of(ws) == TOO_DEEP
        async with authed(gateway.url, user) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert (await recv_json(ws))["type"] == "pong"


async def test_a_deeply_nested_first_frame_closes_with_1008(start_gateway: StartGateway) -> None:
    async with start_gateway() as gateway, opened(gateway.url) as ws:
        await ws.send(nested(1500))
        assert await close_of(ws) == TOO_DEEP


def test_frames_as_deep_as_the_limit_are_taken() -> None:
    frame = {"type": "chat.sync", "since": {"c": 1}, "x": [[1]]}  # 3 levels
    text = {"type": "websocket.receive", "text": json.dumps(frame)}
    assert decode_frame(text, 1024, 3) == frame
    with pytest.raises(FrameRefused, match="nesting_too_deep"):
        decode_frame(text, 1024, 2)
    assert decode_frame({"type": "websocket.receive", "text": "not json"}, 1024, 3) is None


async def test_the_server_as_operators_start_it_refuses_a_15_mb_first_frame_unread(
    realtime_db: RealtimeDb,
) -> None:
    async with (
        start_uvicorn(service_env(realtime_db.url), via_cli=True) as server,
        opened(ws_url(server.url), max_size=None) as ws,
    ):
        with contextlib.suppress(ConnectionClosed):
            await ws.send(json.dumps({"type": "auth", "token": "x" * (15 * 1024 * 1024)}))
        code, _ = await close_of(ws, within=30)
    # uvicorn read the frame's header, saw its length and closed: the token was never read.
    assert code == CloseCode.message_too_big
