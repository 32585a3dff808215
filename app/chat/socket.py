"""Chat over the realtime websocket: client frames and the events the server pushes.

Client frames (each may carry "ref", echoed in the reply):
  chat.send    {conversation_id, client_msg_id, kind, text | attachment_id | card}
               -> {"type": "chat.ack", "created", "message"}
  chat.read    {conversation_id, up_to_seq}        -> {"type": "chat.read_state", ...ReadState}
  chat.recall  {conversation_id, seq}              -> {"type": "chat.ack", "created", "message"}
               (a repeated recall acks the first notice with created false)
  chat.forward {conversation_id, client_msg_id, from_conversation_id, seq}
               -> {"type": "chat.ack", "created", "message"}
  chat.typing  {conversation_id}                   no reply; repeat while typing
  chat.changes {since: cursor | null, limit}       -> {"type": "chat.changes", ...ChangesResponse}
               (one cursor for all conversations; repeat with its cursor while has_more)
  chat.sync    {since: {conversation_id: seq}, limit} -> {"type": "chat.synced", ...SyncResponse}
Server events:
  chat.message {conversation_id, message}   every stored message, to every participant device
  chat.read    {conversation_id, account_id, read_seq}  read receipt; to the reader's own
               devices also unread and total_unread
  chat.typing  {conversation_id, account_id, typing, timeout_seconds}  ephemeral
Clients order messages by seq. After (re)connecting: open the socket first, then chat.changes
from the cursor of the last answer (pages until has_more is false), and drop anything at or
below a seq already held; a seq gap in live events is filled by the next chat.changes.
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette

from app.chat import repository as chat_repository
from app.chat import sending as chat_sending
from app.chat import service as chat_service
from app.chat.errors import Invalid
from app.chat.runtime import ChatRuntime, chat_runtime
from app.chat.schemas import (
    ChangesRequest,
    ForwardRequest,
    MessageCreate,
    MessageOut,
    ReadUpTo,
    SyncRequest,
)
from app.errors import NotFound
from app.kit.bounded import INT32_MAX
from app.models import ChatMessage
from app.realtime.handlers import ClientContext

Model = TypeVar("Model", bound=BaseModel)
_ENVELOPE = ("type", "ref", "conversation_id")


def _runtime(ctx: ClientContext) -> ChatRuntime:
    return chat_runtime(cast(Starlette, ctx.app).state)


def _conversation_id(frame: dict[str, Any]) -> uuid.UUID:
    try:
        return uuid.UUID(str(frame.get("conversation_id")))
    except ValueError:
        raise Invalid() from None


def _parse(model: type[Model], frame: dict[str, Any]) -> Model:
    try:
        return model.model_validate({k: v for k, v in frame.items() if k not in _ENVELOPE})
    except ValidationError:
        raise Invalid() from None


def _ack(message: ChatMessage, created: bool) -> dict[str, Any]:
    return {
        "type": "chat.ack",
        "created": created,
        "message": MessageOut.of(message).model_dump(mode="json"),
    }


async def send(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any]:
    """Send a message (idempotent by client_msg_id); acknowledged with its seq."""
    conversation_id = _conversation_id(frame)
    draft = _parse(MessageCreate, frame)
    async with ctx.unit_of_work() as session:
        message, created = await chat_sending.send_message(
            session, _runtime(ctx), ctx.principal, conversation_id, draft
        )
    return _ack(message, created)


async def recall(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any]:
    """Recall one's own message within the window."""
    conversation_id = _conversation_id(frame)
    seq = frame.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= INT32_MAX:
        raise Invalid()
    async with ctx.unit_of_work() as session:
        message, created = await chat_sending.recall_message(
            session, _runtime(ctx), ctx.principal, conversation_id, seq
        )
    return _ack(message, created)


async def read(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any]:
    """Move read-up-to forward."""
    conversation_id = _conversation_id(frame)
    body = _parse(ReadUpTo, frame)
    async with ctx.unit_of_work() as session:
        state = await chat_service.mark_read(
            session, _runtime(ctx), ctx.principal, conversation_id, body.up_to_seq
        )
    return {"type": "chat.read_state", **state.model_dump(mode="json")}


async def sync(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any]:
    """Everything after the client's per-conversation cursors."""
    body = _parse(SyncRequest, frame)
    async with ctx.unit_of_work() as session:
        synced = await chat_service.sync(session, ctx.principal, body.since, body.limit)
    return {"type": "chat.synced", **synced.model_dump(mode="json")}


async def changes(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any]:
    """Every message after one cursor, over all the caller's conversations (the reconnect)."""
    body = _parse(ChangesRequest, frame)
    limit = body.limit or _runtime(ctx).settings.chat_sync_page_size
    async with ctx.unit_of_work() as session:
        found = await chat_service.changes(session, ctx.principal, body.since, limit)
    return {"type": "chat.changes", **found.model_dump(mode="json")}


async def forward(ctx: ClientContext, frame: dict[str, Any]) -> dict[str, Any]:
    """Forward a message of another conversation of the caller's into this one."""
    conversation_id = _conversation_id(frame)
    request = _parse(ForwardRequest, frame)
    async with ctx.unit_of_work() as session:
        message, created = await chat_sending.forward_message(
            session, _runtime(ctx), ctx.principal, conversation_id, request
        )
    return _ack(message, created)


async def typing(ctx: ClientContext, frame: dict[str, Any]) -> None:
    """Tell the other participants the caller is typing (memory only; expires by itself)."""
    conversation_id = _conversation_id(frame)
    runtime = _runtime(ctx)
    members = runtime.members.get(conversation_id)
    if members is None:
        # Only on a cold cache: sends and earlier typing frames keep it warm.
        async with ctx.sessionmaker() as session:
            rows = await chat_repository.participants(session, conversation_id)
        members = frozenset(row.account_id for row in rows)
        runtime.members.put(conversation_id, members)
    me = ctx.principal.account_id
    if me not in members:
        raise NotFound()
    runtime.typing.started(conversation_id, me, [a for a in members if a != me])
    return None
