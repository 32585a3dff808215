"""The realtime websocket `/ws`: authenticate with the first message, then events and heartbeats.

Protocol, JSON text frames:
  client  {"type": "auth", "token": "<access token>"}   first frame, within WS_AUTH_TIMEOUT_SECONDS
  server  {"type": "ready", "user_id", "heartbeat_seconds", "max_lifetime_seconds"}
  server  {"type": "ping", "ts": <unix epoch milliseconds>}  every WS_HEARTBEAT_SECONDS
  client  {"type": "pong"}      any client frame proves liveness; {"type": "ping"} gets a pong
  server  <event>               each event published to the user, exactly as published
  client  {"type": "<domain>.<verb>", "ref": "...", ...}  handled by the domain that registered
          the type (app/realtime/handlers.py); its reply echoes "ref"
  server  {"type": "error", "code", "detail"?, "ref"?}   unknown type, bad frame or a refusal
          (the connection stays open)
Close codes (`CloseCode`): 4401 authentication failed, 4408 silent for two heartbeats, 4000
lifetime reached, 4429 the client fell too far behind, 1013 realtime (Redis) or the database
unavailable. After any of them the client reconnects (with backoff) and resyncs over HTTP:
events are not replayed.
Limits: a frame larger than WS_AUTH_FRAME_MAX_BYTES before sign-in or WS_FRAME_MAX_BYTES after
it closes with 1009 `frame_too_large`; JSON nested deeper than WS_FRAME_MAX_DEPTH with 1008
`nesting_too_deep` (the client must not send that frame again); a socket beyond the user's
WS_MAX_SOCKETS_PER_USER (over all processes) with 1008 `too_many_connections` right after
sign-in (close another socket of the user first, or reconnect later).
The token is never read from the URL, where proxies and access logs would keep it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from prometheus_client import Gauge

from app.authz.principal import Principal, load_principal, session_is_live
from app.config import Settings
from app.db import unit_of_work
from app.errors import AppError, DatabaseUnavailable, TooManyRequests, Unauthorized
from app.i18n import translate
from app.realtime.handlers import (
    ClientContext,
    ConnectionHook,
    connect_hooks,
    disconnect_hooks,
    handler_for,
)
from app.realtime.hub import CloseCode, RealtimeHub, RealtimeUnavailable

log = structlog.get_logger(__name__)

router = APIRouter()

OPEN_CONNECTIONS = Gauge(
    "realtime_connections", "Open authenticated realtime websockets", multiprocess_mode="livesum"
)

# A client that stopped reading can hold a close frame back for ever; give up on it after this.
_CLOSE_TIMEOUT_SECONDS = 5.0

CloseOutcome = tuple[int, str]


class FrameRefused(Exception):
    """A client frame past the limits: the socket closes with this code and reason."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.outcome: CloseOutcome = (code, reason)


def decode_frame(message: Mapping[str, Any], max_bytes: int, max_depth: int) -> Any:
    """The JSON a client frame carries (None for a binary or non-JSON frame); FrameRefused for
    one larger than `max_bytes` or nested deeper than `max_depth`."""
    text, data = message.get("text"), message.get("bytes")
    # Characters take at most 4 UTF-8 bytes: most frames are measured without encoding.
    size = len(data) if data is not None else len(text or "")
    if text is not None and size * 4 > max_bytes:
        size = len(text.encode())
    if size > max_bytes:
        raise FrameRefused(CloseCode.message_too_big, "frame_too_large")
    if text is None:
        return None
    try:
        frame = json.loads(text)
    except RecursionError:
        raise FrameRefused(CloseCode.policy_violation, "nesting_too_deep") from None
    except ValueError:
        return None
    if _nested_deeper_than(frame, max_depth):
        raise FrameRefused(CloseCode.policy_violation, "nesting_too_deep")
    return frame


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether JSON `value` has more than `limit` levels of arrays and objects (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class _Connection:
    """The outbound side of one websocket: a bounded queue that only the writer task drains."""

    def __init__(self, queue_size: int) -> None:
        loop = asyncio.get_running_loop()
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.closing: asyncio.Future[CloseOutcome] = loop.create_future()
        self.heard_at = loop.time()

    def deliver(self, message: str) -> None:
        """Queue a frame; a client too far behind is dropped rather than waited for."""
        if self.closing.done():
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.close_soon(CloseCode.send_queue_overflow, "send_queue_overflow")

    def close_soon(self, code: int, reason: str) -> None:
        """Ask the connection to close; the first request wins."""
        if not self.closing.done():
            self.closing.set_result((code, reason))


@router.websocket("/ws")
async def realtime_socket(websocket: WebSocket) -> None:
    """One client's realtime connection (protocol in this module's docstring)."""
    settings: Settings = websocket.app.state.settings
    await websocket.accept()
    principal = await _authenticate(websocket, settings)
    if principal is None:
        return
    user_id = principal.account_id
    hub: RealtimeHub = websocket.app.state.hub
    connection = _Connection(settings.ws_send_queue_size)
    context = ClientContext(
        principal=principal,
        connection_id=uuid.uuid4(),
        app=websocket.app,
        sessionmaker=websocket.app.state.sessionmaker,
        deliver=lambda frame: connection.deliver(json.dumps(frame, ensure_ascii=False)),
    )
    socket_id = str(context.connection_id)
    try:
        admitted = await hub.acquire_socket(
            user_id, socket_id, settings.ws_max_sockets_per_user, _lease_seconds(settings)
        )
    except RealtimeUnavailable:
        await _close(websocket, CloseCode.unavailable, "realtime_unavailable")
        return
    if not admitted:
        log.info("realtime connection refused: too many sockets", user_id=str(user_id))
        await _close(websocket, CloseCode.policy_violation, "too_many_connections")
        return
    outcome: CloseOutcome | None
    OPEN_CONNECTIONS.inc()
    try:
        await hub.register(user_id, connection)
        await _run_hooks(connect_hooks(), context)
        outcome = await _serve(websocket, connection, settings, context)
    except RealtimeUnavailable:
        outcome = (CloseCode.unavailable, "realtime_unavailable")
    finally:
        OPEN_CONNECTIONS.dec()
        await hub.unregister(user_id, connection)
        await hub.release_socket(user_id, socket_id)
        await _run_hooks(disconnect_hooks(), context)
    if outcome is not None:
        log.info(
            "realtime connection closed", user_id=str(user_id), code=outcome[0], reason=outcome[1]
        )
        await _close(websocket, *outcome)


async def _authenticate(websocket: WebSocket, settings: Settings) -> Principal | None:
    """The caller behind the first frame's token, or None once the socket is closed."""
    try:
        async with asyncio.timeout(settings.ws_auth_timeout_seconds):
            message = await websocket.receive()
    except TimeoutError:
        await _close(websocket, CloseCode.auth_failed, "auth_timeout")
        return None
    if message["type"] == "websocket.disconnect":
        return None
    try:
        frame = decode_frame(message, settings.ws_auth_frame_max_bytes, settings.ws_frame_max_depth)
    except FrameRefused as refused:
        await _close(websocket, *refused.outcome)
        return None
    token = _auth_token(frame)
    if token is None:
        await _close(websocket, CloseCode.auth_failed, "auth_required")
        return None
    try:
        async with unit_of_work(websocket.app.state.sessionmaker) as session:
            principal = await load_principal(session, token, websocket)
    except Unauthorized as exc:
        await _close(websocket, CloseCode.auth_failed, exc.code)
        return None
    except DatabaseUnavailable as exc:
        await _close(websocket, CloseCode.unavailable, exc.code)
        return None
    return principal


def _lease_seconds(settings: Settings) -> float:
    """How long a socket counts against its user's cap unless renewed (every heartbeat)."""
    return 3 * settings.ws_heartbeat_seconds


def _auth_token(frame: Any) -> str | None:
    if not isinstance(frame, dict) or frame.get("type") != "auth":
        return None
    token = frame.get("token")
    return token if isinstance(token, str) and token else None


async def _run_hooks(hooks: list[ConnectionHook], context: ClientContext) -> None:
    for hook in hooks:
        try:
            await hook(context)
        except Exception:
            log.exception("realtime connection hook failed", hook=getattr(hook, "__name__", "?"))


async def _serve(
    websocket: WebSocket, connection: _Connection, settings: Settings, context: ClientContext
) -> CloseOutcome | None:
    """Run an authenticated connection; the close to send, or None when the client left."""
    principal = context.principal
    ready = {
        "type": "ready",
        "user_id": str(principal.account_id),
        "heartbeat_seconds": settings.ws_heartbeat_seconds,
        "max_lifetime_seconds": settings.ws_max_lifetime_seconds,
    }
    try:
        await websocket.send_text(json.dumps(ready))
    except WebSocketDisconnect:
        return None
    tasks = {
        asyncio.create_task(_read(websocket, connection, context, settings)),
        asyncio.create_task(_write(websocket, connection)),
        asyncio.create_task(_heartbeat(websocket, connection, context, settings)),
    }
    waiting: set[asyncio.Future[Any]] = {*tasks, connection.closing}
    try:
        done, _ = await asyncio.wait(
            waiting, timeout=settings.ws_max_lifetime_seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks & done:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
    if connection.closing.done():
        return connection.closing.result()
    if not done:
        return (CloseCode.lifetime_reached, "lifetime_reached")
    return None


async def _read(
    websocket: WebSocket, connection: _Connection, context: ClientContext, settings: Settings
) -> None:
    loop = asyncio.get_running_loop()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        connection.heard_at = loop.time()
        try:
            frame = decode_frame(message, settings.ws_frame_max_bytes, settings.ws_frame_max_depth)
        except FrameRefused as refused:
            connection.close_soon(*refused.outcome)
            return
        reply = await _reply_to(frame, context)
        if reply is not None:
            connection.deliver(json.dumps(reply, ensure_ascii=False, default=str))


async def _reply_to(frame: Any, context: ClientContext) -> dict[str, Any] | None:
    if not isinstance(frame, dict):
        return {"type": "error", "code": "invalid_message"}
    kind = frame.get("type")
    if kind == "pong":
        return None
    if kind == "ping":
        return {"type": "pong"}
    handler = handler_for(kind)
    if handler is None:
        return _with_ref({"type": "error", "code": "unknown_message_type"}, frame)
    try:
        reply = await handler(context, frame)
    except AppError as exc:
        reply = {"type": "error", "code": exc.code, "detail": translate(exc.code, **exc.params)}
        if isinstance(exc, TooManyRequests):
            reply["retry_after_seconds"] = exc.retry_after
    except Exception:
        log.exception("realtime message handler failed", message_type=kind)
        reply = {"type": "error", "code": "internal_error", "detail": translate("internal_error")}
    return None if reply is None else _with_ref(reply, frame)


def _with_ref(reply: dict[str, Any], frame: dict[str, Any]) -> dict[str, Any]:
    if "ref" in frame and "ref" not in reply:
        return {**reply, "ref": frame["ref"]}
    return reply


async def _write(websocket: WebSocket, connection: _Connection) -> None:
    while True:
        message = await connection.outbox.get()
        try:
            await websocket.send_text(message)
        except WebSocketDisconnect:
            return


async def _heartbeat(
    websocket: WebSocket, connection: _Connection, context: ClientContext, settings: Settings
) -> None:
    loop = asyncio.get_running_loop()
    interval, principal = settings.ws_heartbeat_seconds, context.principal
    hub: RealtimeHub = websocket.app.state.hub
    while True:
        await asyncio.sleep(interval)
        if loop.time() - connection.heard_at >= 2 * interval:
            connection.close_soon(CloseCode.heartbeat_timeout, "heartbeat_timeout")
            return
        # Logout, refresh-token reuse or a disabled account end the socket too, within a beat.
        if not await _session_still_live(websocket, principal):
            connection.close_soon(CloseCode.auth_failed, "session_revoked")
            return
        await hub.renew_socket(
            principal.account_id, str(context.connection_id), _lease_seconds(settings)
        )
        connection.deliver(json.dumps({"type": "ping", "ts": int(time.time() * 1000)}))


async def _session_still_live(websocket: WebSocket, principal: Principal) -> bool:
    """Whether the socket's sign-in session is live; assumed so while the database cannot be
    asked (nothing can be revoked then either), and asked again at the next beat."""
    try:
        async with unit_of_work(websocket.app.state.sessionmaker) as session:
            return await session_is_live(session, principal)
    except DatabaseUnavailable:
        return True


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, TimeoutError):
        async with asyncio.timeout(_CLOSE_TIMEOUT_SECONDS):
            await websocket.close(code, reason)
