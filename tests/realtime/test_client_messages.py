"""Client messages over /ws reach the handler their domain registered, in order, with replies."""

from __future__ import annotations

import json
from typing import Any

from app.errors import Conflict
from app.realtime.handlers import ClientContext, client_message, on_connect, on_disconnect
from tests.fixtures.servers import wait_until
from tests.realtime.clients import authed, recv_json

SEEN: list[tuple[str, Any]] = []


@client_message("test.echo")
async def _echo(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any] | None:
    if frame.get("refuse"):
        raise Conflict("conflict_duplicate")
    async with ctx.unit_of_work():
        pass
    return {"type": "test.echoed", "text": frame.get("text"), "user": str(ctx.principal.account_id)}


@on_connect
async def _opened(ctx: ClientContext) -> None:
    SEEN.append(("connect", ctx.principal.account_id))


@on_disconnect
async def _closed(ctx: ClientContext) -> None:
    SEEN.append(("disconnect", ctx.principal.account_id))


async def test_handler_reply_echoes_the_ref(start_gateway, realtime_db) -> None:
    user = await realtime_db.user()
    async with start_gateway() as gateway, authed(gateway.url, user) as ws:
        await ws.send(json.dumps({"type": "test.echo", "ref": "r1", "text": "你好"}))
        reply = await recv_json(ws)
    assert reply == {"type": "test.echoed", "text": "你好", "user": str(user.id), "ref": "r1"}


async def test_refusal_is_an_error_frame_and_the_socket_stays_open(
    start_gateway, realtime_db
) -> None:
    user = await realtime_db.user()
    async with start_gateway() as gateway, authed(gateway.url, user) as ws:
        await ws.send(json.dumps({"type": "test.echo", "ref": "r2", "refuse": True}))
        error = await recv_json(ws)
        assert error["type"] == "error" and error["code"] == "conflict_duplicate"
        assert error["ref"] == "r2" and error["detail"] == "记录已存在"
        await ws.send(json.dumps({"type": "test.echo", "ref": "r3", "text": "still here"}))
        assert (await recv_json(ws))["ref"] == "r3"


async def test_unknown_type_is_answered_with_its_ref(start_gateway, realtime_db) -> None:
    user = await realtime_db.user()
    async with start_gateway() as gateway, authed(gateway.url, user) as ws:
        await ws.send(json.dumps({"type": "nope", "ref": 7}))
        assert await recv_json(ws) == {"type": "error", "code": "unknown_message_type", "ref": 7}


async def test_connect_and_disconnect_hooks_run(start_gateway, realtime_db) -> None:
    user = await realtime_db.user()
    async with start_gateway() as gateway:
        async with authed(gateway.url, user):
            await wait_until(lambda: ("connect", user.id) in SEEN)
        await wait_until(lambda: ("disconnect", user.id) in SEEN)
