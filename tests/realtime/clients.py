"""Websocket client helpers for realtime tests (the `websockets` library against real uvicorn)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.config import Settings
from app.models import Role
from tests.fixtures import factories

WAIT = 5.0  # upper bound for anything that should happen at once; never a fixed delay


@dataclass(frozen=True)
class User:
    """A signed-in account: its id (the realtime user id) and an access token."""

    id: uuid.UUID
    token: str


async def sign_in(sessionmaker: Any, settings: Settings, role: Role = Role.patient) -> User:
    """A committed account with a live sign-in session."""
    async with sessionmaker() as session:
        account = await factories.account(session, role)
        headers = await factories.bearer(session, settings, account)
        await session.commit()
    return User(account.id, headers["Authorization"].removeprefix("Bearer "))


def ws_url(base_url: str, query: str = "") -> str:
    """The realtime endpoint of a server at `base_url`."""
    return base_url.replace("http://", "ws://", 1) + "/ws" + query


async def recv_json(ws: ClientConnection, within: float = WAIT) -> dict[str, Any]:
    """The next frame, decoded; fails if none arrives in time."""
    async with asyncio.timeout(within):
        frame = await ws.recv()
    decoded = json.loads(frame)
    assert isinstance(decoded, dict)
    return decoded


async def close_of(ws: ClientConnection, within: float = WAIT) -> tuple[int | None, str | None]:
    """Read until the server closes; its close code and reason."""
    async with asyncio.timeout(within):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason


@asynccontextmanager
async def opened(url: str, **options: Any) -> AsyncIterator[ClientConnection]:
    """A websocket client connection, not yet authenticated."""
    async with connect(url, open_timeout=WAIT, close_timeout=1, **options) as ws:
        yield ws


@asynccontextmanager
async def authed(url: str, user: User, **options: Any) -> AsyncIterator[ClientConnection]:
    """A connection past the auth handshake (the ready frame consumed and checked)."""
    async with opened(url, **options) as ws:
        await ws.send(json.dumps({"type": "auth", "token": user.token}))
        ready = await recv_json(ws)
        assert ready["type"] == "ready", ready
        assert ready["user_id"] == str(user.id)
        yield ws
