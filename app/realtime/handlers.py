"""Client-to-server websocket messages: one handler per message type, installed by app/wiring.py.

    async def send(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any] | None:
        async with ctx.unit_of_work() as session:
            ...
        return {"type": "chat.ack", ...}        # the reply to this client, or None

A handler runs in the connection's reader, one frame at a time, so a client's frames are handled
in order. The reply echoes the frame's "ref" (a client correlation id) when it has one. An
AppError becomes {"type": "error", "code", "detail", "ref"} and the connection stays open.
Connection hooks run when an authenticated socket opens and closes (e.g. doctor presence).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from app.authz.principal import Principal
from app.db import bind_app_state, unit_of_work


@dataclass(frozen=True)
class ClientContext:
    """Who sent a frame, on which connection, and how to reach the database and the client."""

    principal: Principal
    connection_id: uuid.UUID
    app: ASGIApp
    sessionmaker: async_sessionmaker[AsyncSession]
    deliver: Callable[[dict[str, Any]], None] = field(repr=False)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """A session for this frame's work, committed when the block ends."""
        async with unit_of_work(self.sessionmaker) as session:
            bind_app_state(session, getattr(self.app, "state", None))
            yield session


ClientHandler = Callable[[ClientContext, dict[str, Any]], Awaitable[dict[str, Any] | None]]
ConnectionHook = Callable[[ClientContext], Awaitable[None]]

_handlers: dict[str, ClientHandler] = {}
_on_connect: list[ConnectionHook] = []
_on_disconnect: list[ConnectionHook] = []


def client_message(message_type: str) -> Callable[[ClientHandler], ClientHandler]:
    """Register the handler of one client message type (types are unique)."""

    def register(handler: ClientHandler) -> ClientHandler:
        if message_type in _handlers or message_type in ("auth", "ping", "pong"):
            raise ValueError(f"client message type {message_type!r} is already handled")
        _handlers[message_type] = handler
        return handler

    return register


def on_connect(hook: ConnectionHook) -> ConnectionHook:
    """Run `hook` when an authenticated connection opens."""
    _on_connect.append(hook)
    return hook


def on_disconnect(hook: ConnectionHook) -> ConnectionHook:
    """Run `hook` when an authenticated connection closes, however it ends."""
    _on_disconnect.append(hook)
    return hook


def install(
    messages: Mapping[str, ClientHandler],
    connects: Sequence[ConnectionHook] = (),
    disconnects: Sequence[ConnectionHook] = (),
) -> None:
    """Handle these client message types and run these hooks (app/wiring.py, once)."""
    for message_type, handler in messages.items():
        client_message(message_type)(handler)
    for hook in connects:
        on_connect(hook)
    for hook in disconnects:
        on_disconnect(hook)


def handler_for(message_type: object) -> ClientHandler | None:
    """The registered handler of a message type, if any."""
    return _handlers.get(message_type) if isinstance(message_type, str) else None


def connect_hooks() -> list[ConnectionHook]:
    """Hooks to run on connect."""
    return list(_on_connect)


def disconnect_hooks() -> list[ConnectionHook]:
    """Hooks to run on disconnect."""
    return list(_on_disconnect)
