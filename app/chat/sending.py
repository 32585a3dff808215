"""Appending messages: user sends, recalls and system notices, each numbered and fanned out.

Every append locks the conversation's counter row, takes the next seq, stores the message and
registers the pushes to run after commit, so participants only ever hear of stored messages and
committed seqs are 1..N without gaps. A client message id makes a send idempotent: the retry
finds the original (in the claim's round trip, before the rate limit, or by the INSERT's
conflict when it was stored while the lock was waited for) and gets it back instead of a
second message. What the server appends itself (recalls, notices) is keyed in a namespace
of its own (`server_key`), so no client id can stand in for one.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.chat import cards as chat_cards
from app.chat import repository as chat_repository
from app.chat.errors import TooLarge
from app.chat.messages import NOTICE_TEMPLATES
from app.chat.runtime import ChatRuntime
from app.chat.schemas import ForwardRequest, MessageCreate, MessageOut, render_notice
from app.config import Settings
from app.errors import Conflict, Forbidden, NotFound
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import ChatAttachment, ChatConversation, ChatMessage
from app.outbox.push import PushNotification, queue_push
from app.realtime.publish import publish_after_commit

PUSH_TEMPLATE = "chat_new_message"
# What the subscription message says (in the mini-program's language, whoever triggered it):
# who wrote, and that something arrived - never the text itself.
PUSH_SUMMARY = "您有一条新消息"
PUSH_NOTICE_SENDER = "服务通知"
MAX_DEDUPE_KEY_CHARS = 64
# What the server appends itself: nobody quotes or forwards these.
SERVER_KINDS = frozenset({"notice", "recall"})
# What may be forwarded: cards link to one conversation's patient and voice is WeChat's
# own exception (its clips cannot be forwarded either).
FORWARDABLE_KINDS = frozenset({"text", "image", "file", "video", "location"})


async def send_message(
    session: AsyncSession,
    runtime: ChatRuntime,
    principal: Principal,
    conversation_id: uuid.UUID,
    draft: MessageCreate,
) -> tuple[ChatMessage, bool]:
    """Store and fan out a participant's message; (message, created) - a retry gets the original."""
    me = principal.account_id
    now = utcnow()
    seq = await _claim_for_send(session, runtime, conversation_id, me, draft.client_msg_id, now)
    if isinstance(seq, ChatMessage):
        return seq, False
    limit = runtime.settings.chat_max_text_chars
    if draft.text is not None and len(draft.text) > limit:
        raise TooLarge("chat_message_too_large", limit=limit)
    # After the claim, which proved the caller takes part in the conversation.
    attachment = await _attachment(session, runtime.settings, conversation_id, me, draft)
    quoted = await _quoted(session, conversation_id, draft.reply_to)
    extra: dict[str, Any] = {}
    if draft.card is not None:
        conversation = await by_id(session, ChatConversation, conversation_id)
        assert conversation is not None
        await chat_cards.check_shareable(session, principal, conversation, draft.card)
        body = draft.card.model_dump(mode="json")
    elif attachment is not None:
        if not await chat_repository.mark_attachment_sent(
            session, attachment.id, now, _unsent_cutoff(runtime.settings, now)
        ):
            raise NotFound("chat_attachment_not_found")  # expired meanwhile
        body = {
            "attachment_id": str(attachment.id),
            "content_type": attachment.content_type,
            "size_bytes": attachment.size_bytes,
            "duration_ms": attachment.duration_ms,
            "file_name": attachment.file_name,
        }
        extra["attachment_id"] = attachment.id
    elif draft.location is not None:
        body = draft.location.model_dump(mode="json")
    else:
        body = {"text": draft.text}
    if quoted is not None:
        extra["reply_to_id"] = quoted.id
    message, created = await _store(
        session,
        runtime,
        seq,
        now,
        {
            "conversation_id": conversation_id,
            "sender_account_id": me,
            "client_msg_id": draft.client_msg_id,
            "kind": draft.kind,
            "body": body,
            **extra,
        },
        sender_name=principal.display_name,
        quoted=quoted,
    )
    if created:
        runtime.typing.sent(conversation_id, me)
    return message, created


async def forward_message(
    session: AsyncSession,
    runtime: ChatRuntime,
    principal: Principal,
    conversation_id: uuid.UUID,
    request: ForwardRequest,
) -> tuple[ChatMessage, bool]:
    """Forward a message of one of the caller's conversations into another of theirs about the
    same patient (a care conversation and that patient's team group); the copy records its
    origin and shares any file by reference. (message, created) - a retry gets the original."""
    me = principal.account_id
    now = utcnow()
    seq = await _claim_for_send(session, runtime, conversation_id, me, request.client_msg_id, now)
    if isinstance(seq, ChatMessage):
        return seq, False
    # After the claim, which proved the caller takes part in the target conversation.
    source = await chat_repository.get_membership(session, request.from_conversation_id, me)
    if source is None:
        raise NotFound()
    forwarded = await chat_repository.get_message_by_seq(
        session, request.from_conversation_id, request.seq
    )
    if forwarded is None:
        raise NotFound()
    if forwarded.recalled_at is not None:
        raise Conflict("chat_forward_recalled")
    if forwarded.kind not in FORWARDABLE_KINDS:
        raise Conflict("chat_forward_kind_not_allowed")
    subjects = await chat_repository.patient_accounts(
        session, [request.from_conversation_id, conversation_id]
    )
    subject = subjects.get(request.from_conversation_id)
    if subject is None or subjects.get(conversation_id) != subject:
        raise Forbidden("chat_forward_outside_care")
    origin = forwarded.body.get("forwarded_from") or {
        "message_id": str(forwarded.id),
        "sender_account_id": None
        if forwarded.sender_account_id is None
        else str(forwarded.sender_account_id),
        "sent_at": forwarded.created_at.isoformat(),
    }
    return await _store(
        session,
        runtime,
        seq,
        now,
        {
            "conversation_id": conversation_id,
            "sender_account_id": me,
            "client_msg_id": request.client_msg_id,
            "kind": forwarded.kind,
            "body": {**forwarded.body, "forwarded_from": origin},
            "attachment_id": forwarded.attachment_id,
            "forwarded_from_id": forwarded.id,
        },
        sender_name=principal.display_name,
    )


async def recall_message(
    session: AsyncSession,
    runtime: ChatRuntime,
    principal: Principal,
    conversation_id: uuid.UUID,
    seq: int,
) -> tuple[ChatMessage, bool]:
    """Recall one's own message within the window: its body is hidden, a notice is appended.
    (notice, created): recalling again returns the first notice with created False."""
    me = principal.account_id
    now = utcnow()
    notice_seq = await _claim(session, conversation_id, me, now)
    # Keyed by the recalled seq in the server's namespace, which no client id can occupy.
    server_key = f"recall:{seq}"
    done = await chat_repository.find_by_key(session, conversation_id, "server_key", server_key)
    if done is not None:
        await chat_repository.give_back_seq(session, conversation_id)
        if done.sender_account_id != me:
            raise Forbidden("chat_recall_not_own")
        return done, False
    target = await chat_repository.get_message_by_seq(session, conversation_id, seq)
    if target is None:
        raise NotFound()
    if target.sender_account_id != me:
        raise Forbidden("chat_recall_not_own")
    if target.kind in SERVER_KINDS or target.recalled_at is not None:
        raise Conflict("chat_recall_not_allowed")
    window = runtime.settings.chat_recall_window_seconds
    if now - target.created_at > timedelta(seconds=window):
        raise Conflict("chat_recall_window_passed", minutes=round(window / 60))
    await chat_repository.mark_recalled(session, target.id, now)
    # The sender's own file is withdrawn everywhere, forwarded copies included; recalling a
    # forwarded copy only removes that copy (the file stays where it was first sent).
    if target.attachment_id is not None and target.forwarded_from_id is None:
        await chat_repository.mark_attachment_recalled(session, target.attachment_id, now)
    return await _store(
        session,
        runtime,
        notice_seq,
        now,
        {
            "conversation_id": conversation_id,
            "sender_account_id": me,
            "server_key": server_key,
            "kind": "recall",
            "body": {
                "recalled_seq": seq,
                "code": "chat_notice_recalled",
                "params": {"name": principal.display_name},
            },
        },
        sender_name=principal.display_name,
        push=False,
    )


async def post_system_notice(
    session: AsyncSession,
    target_id: uuid.UUID,
    notice_code: str,
    params: dict[str, Any],
    *,
    runtime: ChatRuntime | None = None,
    dedupe_key: str | None = None,
) -> ChatMessage:
    """Append a system notice to a conversation, given its id or its care relationship's id.

    `runtime` (`chat_runtime(request.app.state)`) pushes it live; without one it is stored and
    only offline pushes are queued. The same `dedupe_key` never posts twice. Notices reach
    closed conversations too (e.g. "care ended").
    """
    from app.chat.conversations import ensure_care_conversation

    if notice_code not in NOTICE_TEMPLATES:
        raise ValueError(f"unknown chat notice code {notice_code!r}")
    try:
        render_notice(notice_code, params)
    except (KeyError, IndexError) as exc:
        raise ValueError(f"notice {notice_code!r} needs parameter {exc}") from None
    if dedupe_key is not None and not 0 < len(dedupe_key) <= MAX_DEDUPE_KEY_CHARS:
        raise ValueError(f"dedupe_key must be 1-{MAX_DEDUPE_KEY_CHARS} characters")
    # A conversation this request has loaded comes from the session without a query.
    conversation = await by_id(session, ChatConversation, target_id)
    if conversation is None:
        conversation = await ensure_care_conversation(session, target_id)
    conversation_id = conversation.id
    now = utcnow()
    seq = await _claim(session, conversation_id, None, now)
    message, _ = await _store(
        session,
        runtime,
        seq,
        now,
        {
            "conversation_id": conversation_id,
            "sender_account_id": None,
            "server_key": f"notice:{dedupe_key or uuid.uuid4().hex}",
            "kind": "notice",
            "body": {"code": notice_code, "params": params},
        },
        sender_name=None,
    )
    return message


async def _claim(
    session: AsyncSession, conversation_id: uuid.UUID, sender_id: uuid.UUID | None, now: datetime
) -> int:
    claimed = await chat_repository.claim_next_seq(session, conversation_id, sender_id, now)
    if claimed is None:
        raise NotFound()
    if claimed.closed_at is not None and sender_id is not None:
        raise Conflict("chat_conversation_closed")
    return claimed.seq


async def _claim_for_send(
    session: AsyncSession,
    runtime: ChatRuntime,
    conversation_id: uuid.UUID,
    me: uuid.UUID,
    client_msg_id: str,
    now: datetime,
) -> int | ChatMessage:
    """The seq claimed for a participant's new message, or the caller's message already stored
    under this client id (the seq given back)."""
    claimed = await chat_repository.claim_next_seq(session, conversation_id, me, now, client_msg_id)
    if claimed is None:
        raise NotFound()
    if claimed.stored_id is not None:
        original = await chat_repository.get_message(session, claimed.stored_id)
        # A retry is answered from the original before the rate limit and whatever became of
        # the conversation since: the client only retries because it lost the first answer.
        # Only the caller's own messages are answered, so this tells nobody anything.
        if original is not None and original.sender_account_id == me:
            await chat_repository.give_back_seq(session, conversation_id)
            return original
    if claimed.closed_at is not None:
        raise Conflict("chat_conversation_closed")
    await runtime.check_send_rate(me)
    return claimed.seq


async def _attachment(
    session: AsyncSession,
    settings: Settings,
    conversation_id: uuid.UUID,
    sender_id: uuid.UUID,
    draft: MessageCreate,
) -> ChatAttachment | None:
    """The sender's own attachment the draft carries, still sendable; 404 otherwise."""
    if draft.attachment_id is None:
        return None
    attachment = await chat_repository.get_own_attachment(
        session, draft.attachment_id, conversation_id, sender_id
    )
    if attachment is None or attachment.kind != draft.kind or attachment.expired_at is not None:
        raise NotFound("chat_attachment_not_found")
    cutoff = _unsent_cutoff(settings, utcnow())
    if attachment.sent_at is None and attachment.created_at < cutoff:
        raise NotFound("chat_attachment_not_found")  # expired, the job has not got to it yet
    return attachment


async def _quoted(
    session: AsyncSession, conversation_id: uuid.UUID, reply_to: uuid.UUID | None
) -> ChatMessage | None:
    """The earlier message of this conversation a draft quotes; 404 for one of any other
    conversation (or none), and for system notices, which nobody can reply to."""
    if reply_to is None:
        return None
    quoted = await chat_repository.get_message(session, reply_to)
    if quoted is None or quoted.conversation_id != conversation_id or quoted.kind in SERVER_KINDS:
        raise NotFound("chat_quote_not_found")
    return quoted


def _unsent_cutoff(settings: Settings, now: datetime) -> datetime:
    """Attachments uploaded before this and never sent have expired."""
    return now - timedelta(seconds=settings.chat_attachment_unsent_ttl_seconds)


async def _store(
    session: AsyncSession,
    runtime: ChatRuntime | None,
    seq: int,
    now: datetime,
    values: dict[str, Any],
    *,
    sender_name: str | None,
    push: bool = True,
    quoted: ChatMessage | None = None,
) -> tuple[ChatMessage, bool]:
    """Insert the message under the claimed seq and fan it out; a known client message id
    instead gives the seq back and returns the original. `quoted` is the message it replies
    to, for the preview the fan-out carries."""
    conversation_id, sender_id = values["conversation_id"], values["sender_account_id"]
    # Exactly one idempotency key: the client's id for sends, the server's key otherwise.
    key_column = "client_msg_id" if "client_msg_id" in values else "server_key"
    row = {
        "client_msg_id": None,
        "server_key": None,
        **values,
        "id": uuid.uuid4(),
        "seq": seq,
        "created_at": now,
    }
    if sender_id is not None:
        everyone = await chat_repository.insert_sent_message(session, row, key_column)
    elif await chat_repository.insert_message(session, row, key_column):
        everyone = await chat_repository.active_account_ids(session, conversation_id)
    else:
        everyone = None
    if everyone is None:
        # A retry (checked after the lock, so one committed meanwhile is seen too). This also
        # moved last_message_at to now, which only reorders the list by a retry's moment.
        await chat_repository.give_back_seq(session, conversation_id)
        original = await chat_repository.find_by_key(
            session, conversation_id, key_column, values[key_column]
        )
        assert original is not None  # messages are never deleted
        if original.sender_account_id != sender_id:
            raise Conflict("chat_client_msg_id_taken")
        return original, False
    message = ChatMessage(**row)
    message.reply_to = quoted
    await _fan_out(session, runtime, message, everyone, sender_name, push=push)
    return message, True


async def _fan_out(
    session: AsyncSession,
    runtime: ChatRuntime | None,
    message: ChatMessage,
    everyone: list[uuid.UUID],
    sender_name: str | None,
    *,
    push: bool,
) -> None:
    others = [a for a in everyone if a != message.sender_account_id]
    online: set[uuid.UUID] = set()
    if runtime is not None:
        runtime.members.put(message.conversation_id, everyone)
        event = {
            "type": "chat.message",
            "conversation_id": str(message.conversation_id),
            "message": MessageOut.of(message).model_dump(mode="json"),
        }
        # The other participants first: the sender's own devices already have the ack coming.
        echo = [a for a in everyone if a == message.sender_account_id]
        publish_after_commit(session, runtime.hub, [*others, *echo], event)
        if push:
            online = await runtime.online(others)
    offline = [a for a in others if a not in online]
    if not push or not offline:
        return
    for account_id in offline:
        await queue_push(
            session,
            PushNotification(
                # The push provider finds the person's address (openid) when it sends.
                recipient=str(account_id),
                template=PUSH_TEMPLATE,
                # No message text: lock screens are not the place for health data.
                data={
                    "conversation_id": str(message.conversation_id),
                    "seq": message.seq,
                    "sender_name": sender_name or PUSH_NOTICE_SENDER,
                    "summary": PUSH_SUMMARY,
                    "sent_at": message.created_at.isoformat(),
                },
                page=f"pages/chat/conversation?id={message.conversation_id}",
            ),
            f"chat:{message.id}:{account_id}",
        )
