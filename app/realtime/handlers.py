"""Client-to-server websocket messages: domains register a handler per message type.

    @client_message("chat.send")
    async def send(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any] | None:
        async with ctx.unit_of_work() as session:
            ...
        return {"type": "chat.ack", ...}        # the reply to this client, or None

A handler runs in the connection's reader, one frame at a time, so a client's frames are handled
in order. The reply echoes the frame's "ref" (a client correlation id) when it has one. An
AppError becomes {"type": "error", "code", "detail", "ref"} and the connection stays open.
Hooks registered with `on_connect` / `on_disconnect` run when an authenticated socket opens and
closes (e.g. doctor presence).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp

from app.authz.principal import Principal
from app.db import unit_of_work


@dataclass(frozen=True)
class ClientContext:
    """Who sent a frame, on which connection, and how to reach the database and the client."""

    principal: Principal
    connection_id: uuid.UUID
    app: ASGIApp
    sessionmaker: async_sessionmaker[AsyncSession]
    deliver: Callable[[dict[str, Any]], None] = field(repr=False)

    def unit_of_work(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for this frame's work, committed when the block ends."""
        return unit_of_work(self.sessionmaker)


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


def handler_for(message_type: object) -> ClientHandler | None:
    """The registered handler of a message type, if any."""
    return _handlers.get(message_type) if isinstance(message_type, str) else None


def connect_hooks() -> list[ConnectionHook]:
    """Hooks to run on connect."""
    return list(_on_connect)


def disconnect_hooks() -> list[ConnectionHook]:
    """Hooks to run on disconnect."""
    return list(_on_disconnect)
