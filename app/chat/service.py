"""Reading conversations: lists, history, sync, read state and read receipts (audited).

Message lists are health data: each read records one audit event per conversation, not one
per message. Unread counts are last seq minus read-up-to, because sending advances the
sender's own read-up-to; read state is per account, so every device of it agrees.
"""

from __future__ import annotations

import base64
import binascii
import struct
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.authz.scopes import patient_scope
from app.chat import repository as chat_repository
from app.chat.conversations import ensure_care_conversation
from app.chat.repository import Membership
from app.chat.runtime import ChatRuntime
from app.chat.schemas import (
    ChangesResponse,
    ConversationDetail,
    ConversationList,
    ConversationOut,
    Counterpart,
    MessageOut,
    MessagePage,
    ParticipantOut,
    ReadState,
    SyncedConversation,
    SyncResponse,
    UnreadCounts,
)
from app.errors import NotFound
from app.kit.bounded import INT32_MAX, NonNegativeInt32
from app.kit.clock import utcnow
from app.kit.pagination import InvalidCursor, PageParams, encode_cursor
from app.kit.repository import by_id
from app.models import CareRelationship, ChatConversation, ChatMessage, Doctor, Patient, Role
from app.realtime.publish import publish_after_commit

RESOURCE = "chat_conversation"
_CURSOR_VERSION = 1
_SEQ = struct.Struct(">I")
_ENTRY = 16 + _SEQ.size


async def membership(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID
) -> Membership:
    """The conversation if the caller takes part in it; 404 for everyone else."""
    found = await chat_repository.get_membership(session, conversation_id, principal.account_id)
    if found is None:
        raise NotFound()
    return found


def conversation_out(
    member: Membership,
    last_message: ChatMessage | None = None,
    counterpart: Counterpart | None = None,
) -> ConversationOut:
    """The caller's view of a conversation, with its unread count."""
    conversation = member.conversation
    return ConversationOut(
        id=conversation.id,
        kind=conversation.kind,
        title=conversation.title,
        counterpart=counterpart,
        patient_id=conversation.patient_id,
        care_relationship_id=conversation.care_relationship_id,
        last_seq=conversation.last_seq,
        read_seq=member.read_seq,
        unread=max(conversation.last_seq - member.read_seq, 0),
        last_message_at=conversation.last_message_at,
        closed=conversation.closed_at is not None,
        last_message=None if last_message is None else MessageOut.of(last_message),
    )


async def list_conversations(session: AsyncSession, principal: Principal) -> ConversationList:
    """The caller's conversations, newest activity first, with last message and the badge."""
    members = await chat_repository.list_memberships(session, principal.account_id)
    conversations = [m.conversation for m in members]
    last = await chat_repository.last_messages(session, conversations)
    others = await _counterparts(session, principal, conversations)
    # Audited: each conversation whose content or patient's name the list shows.
    await _audit(
        session,
        principal,
        [c for c in conversations if c.id in last or _names_patient(others.get(c.id))],
    )
    items = [
        conversation_out(m, last.get(m.conversation.id), others.get(m.conversation.id))
        for m in members
    ]
    return ConversationList(items=items, next=None, total_unread=sum(i.unread for i in items))


async def _counterparts(
    session: AsyncSession, principal: Principal, conversations: Sequence[ChatConversation]
) -> dict[uuid.UUID, Counterpart]:
    """The other party of each care conversation; a doctor also sees the registered name of
    a patient in their care (the same scope as every other read of that patient's data)."""
    rows = await chat_repository.counterparts(
        session, [c.id for c in conversations], principal.account_id
    )
    names: dict[uuid.UUID, str] = {}
    if principal.role == Role.doctor:
        patients = [c.patient_id for c in conversations if c.patient_id is not None]
        names = await chat_repository.patient_names(
            session, patients, patient_scope(principal, Patient.id, utcnow())
        )
    patient_of = {c.id: c.patient_id for c in conversations}
    found = {}
    for conversation_id, row in rows.items():
        patient_id = patient_of.get(conversation_id)
        real_name = None
        if row.role == "patient" and patient_id is not None:
            real_name = names.get(patient_id)
        found[conversation_id] = Counterpart(
            account_id=row.account_id,
            role=row.role,
            display_name=row.display_name,
            real_name=real_name,
        )
    return found


def _names_patient(counterpart: Counterpart | None) -> bool:
    return counterpart is not None and counterpart.real_name is not None


async def get_conversation(
    session: AsyncSession, principal: Principal, conversation_id: uuid.UUID
) -> ConversationDetail:
    """One conversation with its participants' read-up-to (read receipts)."""
    member = await membership(session, principal, conversation_id)
    rows = await chat_repository.participants(session, conversation_id)
    counterpart = (await _counterparts(session, principal, [member.conversation])).get(
        conversation_id
    )
    if _names_patient(counterpart):
        await _audit(session, principal, [member.conversation])
    return ConversationDetail(
        **conversation_out(member, counterpart=counterpart).model_dump(),
        participants=[
            ParticipantOut(account_id=a, role=role, display_name=name, read_seq=read_seq)
            for a, role, name, read_seq in rows
        ],
    )


async def open_care_conversation(
    session: AsyncSession, principal: Principal, care_relationship_id: uuid.UUID
) -> ConversationDetail:
    """The conversation of one's own care relationship (created on first use)."""
    care = await by_id(session, CareRelationship, care_relationship_id)
    if care is None or not await _is_party(session, principal, care):
        raise NotFound()
    conversation = await ensure_care_conversation(session, care.id)
    return await get_conversation(session, principal, conversation.id)


async def _is_party(session: AsyncSession, principal: Principal, care: CareRelationship) -> bool:
    if principal.role == Role.patient:
        patient = await by_id(session, Patient, care.patient_id)
        return patient is not None and patient.account_id == principal.account_id
    if principal.role == Role.doctor:
        doctor = await by_id(session, Doctor, care.doctor_id)
        return doctor is not None and doctor.account_id == principal.account_id
    return False


async def unread_counts(session: AsyncSession, principal: Principal) -> UnreadCounts:
    """Unread messages per conversation and in total (the app badge)."""
    counts = await chat_repository.unread_counts(session, principal.account_id)
    return UnreadCounts(total_unread=sum(counts.values()), conversations=counts)


async def history(
    session: AsyncSession,
    principal: Principal,
    conversation_id: uuid.UUID,
    *,
    after_seq: int | None,
    page: PageParams,
) -> MessagePage:
    """A page of messages: backwards from the newest, or forwards after `after_seq` (catching
    up one conversation); always ascending. The cursor carries the direction and the seq to
    continue from, so `next` pages further back, or further on."""
    member = await membership(session, principal, conversation_id)
    resume = page.after(str, NonNegativeInt32)
    if resume is None:
        direction, seq = ("after", after_seq) if after_seq is not None else ("before", None)
    elif resume[0] in ("before", "after"):
        direction, seq = resume
    else:
        raise InvalidCursor()
    limit = page.limit
    if direction == "after":
        rows = await chat_repository.messages_after(session, conversation_id, seq or 0, limit + 1)
        found = list(rows[:limit])
        edge = found[-1] if found else None
    else:
        rows = await chat_repository.messages_before(session, conversation_id, seq, limit + 1)
        found = list(reversed(rows[:limit]))
        edge = found[0] if found else None
    await _audit(session, principal, [member.conversation])
    more = len(rows) > limit and edge is not None
    return MessagePage(
        items=[MessageOut.of(m) for m in found],
        next=encode_cursor((direction, edge.seq)) if more and edge is not None else None,
    )


async def sync(
    session: AsyncSession, principal: Principal, since: dict[uuid.UUID, int], limit: int
) -> SyncResponse:
    """Everything after the client's per-conversation cursors, for all its conversations.

    Seqs are gapless and committed in order, so "after my cursor" misses nothing and repeats
    nothing; a conversation the client has no cursor for starts from 0.
    """
    members = await chat_repository.list_memberships(session, principal.account_id)
    synced: list[SyncedConversation] = []
    read: list[ChatConversation] = []
    for member in members:
        conversation = member.conversation
        cursor = since.get(conversation.id, 0)
        messages: Sequence[ChatMessage] = ()
        if conversation.last_seq > cursor:
            messages = await chat_repository.messages_after(
                session, conversation.id, cursor, limit + 1
            )
            read.append(conversation)
        synced.append(
            SyncedConversation(
                conversation=conversation_out(member),
                messages=[MessageOut.of(m) for m in messages[:limit]],
                has_more=len(messages) > limit,
            )
        )
    await _audit(session, principal, read)
    return SyncResponse(
        conversations=synced, total_unread=sum(s.conversation.unread for s in synced)
    )


def encode_sync_cursor(seqs: dict[uuid.UUID, int]) -> str:
    """The opaque one-for-all cursor: per conversation the last seq the client holds (binary,
    20 bytes a conversation: its id and the seq; conversations at 0 are left out)."""
    packed = b"".join(
        conversation_id.bytes + _SEQ.pack(seq)
        for conversation_id, seq in sorted(seqs.items())
        if seq > 0
    )
    return base64.urlsafe_b64encode(bytes([_CURSOR_VERSION]) + packed).decode().rstrip("=")


def decode_sync_cursor(cursor: str) -> dict[uuid.UUID, int]:
    """The per-conversation seqs a cursor of `encode_sync_cursor` carries; 422 otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor() from exc
    if not raw or raw[0] != _CURSOR_VERSION or (len(raw) - 1) % _ENTRY != 0:
        raise InvalidCursor()
    seqs: dict[uuid.UUID, int] = {}
    for offset in range(1, len(raw), _ENTRY):
        (seq,) = _SEQ.unpack_from(raw, offset + 16)
        if not 0 < seq <= INT32_MAX:
            raise InvalidCursor()
        seqs[uuid.UUID(bytes=raw[offset : offset + 16])] = seq
    return seqs


async def changes(
    session: AsyncSession, principal: Principal, since: str | None, limit: int
) -> ChangesResponse:
    """Every message after a cursor in all the caller's conversations, in one query.

    The cursor holds, per conversation, the last seq the client has. Seqs are gapless and
    committed in order, and a page runs conversation by conversation in seq order, so each
    conversation's new cursor is the last seq of it on the page: nothing is lost, nothing comes
    twice. A conversation the cursor does not name (new to the client) starts from 0.
    """
    held = {} if not since else decode_sync_cursor(since)
    members = await chat_repository.list_memberships(session, principal.account_id)
    mine = {m.conversation.id: m for m in members}
    # Only conversations with something after the client's seq are read (and named in SQL).
    pending = {
        conversation_id: held.get(conversation_id, 0)
        for conversation_id, member in mine.items()
        if member.conversation.last_seq > held.get(conversation_id, 0)
    }
    rows = await chat_repository.messages_since(session, pending, limit + 1)
    page = list(rows[:limit])
    seqs = {conversation_id: held.get(conversation_id, 0) for conversation_id in mine}
    for message in page:
        seqs[message.conversation_id] = message.seq
    touched = [mine[c] for c in dict.fromkeys(m.conversation_id for m in page)]
    await _audit(session, principal, [m.conversation for m in touched])
    return ChangesResponse(
        messages=[MessageOut.of(m) for m in page],
        conversations=[conversation_out(m) for m in touched],
        cursor=encode_sync_cursor(seqs),
        has_more=len(rows) > limit,
        total_unread=sum(max(m.conversation.last_seq - m.read_seq, 0) for m in members),
    )


async def mark_read(
    session: AsyncSession,
    runtime: ChatRuntime,
    principal: Principal,
    conversation_id: uuid.UUID,
    up_to_seq: int,
) -> ReadState:
    """Move the caller's read-up-to forward; their devices get the new counts, the other
    participants a read receipt."""
    member = await membership(session, principal, conversation_id)
    me = principal.account_id
    target = min(up_to_seq, member.conversation.last_seq)
    if target > member.read_seq:
        await chat_repository.advance_read(session, conversation_id, me, target)
    read_seq = await chat_repository.read_seq_of(session, conversation_id, me)
    counts = await chat_repository.unread_counts(session, me)
    state = ReadState(
        conversation_id=conversation_id,
        account_id=me,
        read_seq=read_seq,
        unread=counts.get(conversation_id, 0),
        total_unread=sum(counts.values()),
    )
    if read_seq > member.read_seq:
        everyone = [
            row.account_id for row in await chat_repository.participants(session, conversation_id)
        ]
        receipt = {
            "type": "chat.read",
            "conversation_id": str(conversation_id),
            "account_id": str(me),
            "read_seq": read_seq,
        }
        publish_after_commit(session, runtime.hub, [a for a in everyone if a != me], receipt)
        # The reader's own devices also learn their badge; nobody else sees it.
        publish_after_commit(
            session, runtime.hub, [me], {**receipt, **state.model_dump(mode="json")}
        )
    return state


async def _audit(
    session: AsyncSession, principal: Principal, conversations: Sequence[ChatConversation]
) -> None:
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        RESOURCE,
        [(c.id, c.patient_id) for c in conversations],
    )
