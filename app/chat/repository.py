"""SQL for conversations, participants and messages (always filtered by participation)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, exists, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import insert_ignoring_conflicts
from app.models import Account, ChatAttachment, ChatConversation, ChatMessage, ChatParticipant


@dataclass(frozen=True)
class Membership:
    """A conversation as one of its active participants sees it."""

    conversation: ChatConversation
    read_seq: int


def _active(account_id: uuid.UUID) -> Any:
    return and_(
        ChatParticipant.conversation_id == ChatConversation.id,
        ChatParticipant.account_id == account_id,
        ChatParticipant.left_at.is_(None),
    )


async def get_membership(
    session: AsyncSession, conversation_id: uuid.UUID, account_id: uuid.UUID
) -> Membership | None:
    """The conversation if `account_id` actively takes part in it, else None."""
    row = (
        await session.execute(
            select(ChatConversation, ChatParticipant.read_seq)
            .join(ChatParticipant, _active(account_id))
            .where(ChatConversation.id == conversation_id)
            # The counter moves under core UPDATEs: never trust a copy already in the session.
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return None if row is None else Membership(row[0], row[1])


async def list_memberships(session: AsyncSession, account_id: uuid.UUID) -> list[Membership]:
    """Every conversation the account takes part in, most recently active first."""
    rows = await session.execute(
        select(ChatConversation, ChatParticipant.read_seq)
        .join(ChatParticipant, _active(account_id))
        .order_by(ChatConversation.last_message_at.desc().nulls_last(), ChatConversation.created_at)
        .execution_options(populate_existing=True)
    )
    return [Membership(conversation, read_seq) for conversation, read_seq in rows]


async def unread_counts(session: AsyncSession, account_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Unread messages per conversation: last seq minus read-up-to (own sends advance it)."""
    rows = await session.execute(
        select(ChatConversation.id, ChatConversation.last_seq - ChatParticipant.read_seq).join(
            ChatParticipant, _active(account_id)
        )
    )
    return {conversation_id: max(int(unread), 0) for conversation_id, unread in rows}


async def claim_next_seq(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    sender_id: uuid.UUID | None,
    now: datetime,
) -> tuple[int, datetime | None] | None:
    """Lock the conversation's counter row and take the next seq: (seq, closed_at), or None
    when the conversation does not exist or `sender_id` does not take part in it."""
    # One statement locks, checks membership and counts. The row lock is held until commit, so
    # committed seqs are 1..N without gaps; a rollback returns the number with everything else.
    statement = update(ChatConversation).where(ChatConversation.id == conversation_id)
    if sender_id is not None:
        statement = statement.where(
            exists().where(
                ChatParticipant.conversation_id == conversation_id,
                ChatParticipant.account_id == sender_id,
                ChatParticipant.left_at.is_(None),
            )
        )
    row = (
        await session.execute(
            statement.values(last_seq=ChatConversation.last_seq + 1, last_message_at=now)
            .returning(ChatConversation.last_seq, ChatConversation.closed_at)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def give_back_seq(session: AsyncSession, conversation_id: uuid.UUID) -> None:
    """Undo `claim_next_seq` (the lock is still held, so nobody has numbered since)."""
    await session.execute(
        update(ChatConversation)
        .where(ChatConversation.id == conversation_id)
        .values(last_seq=ChatConversation.last_seq - 1)
        .execution_options(synchronize_session=False)
    )


async def insert_message(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Store a message unless its client message id is already in the conversation."""
    statement = insert_ignoring_conflicts(
        session, ChatMessage, ["conversation_id", "client_msg_id"]
    )
    result = await session.execute(statement.values(**values).returning(ChatMessage.id))
    return result.first() is not None


async def find_by_client_id(
    session: AsyncSession, conversation_id: uuid.UUID, client_msg_id: str
) -> ChatMessage | None:
    """The message stored under a client message id, if any."""
    return await session.scalar(
        select(ChatMessage).where(
            ChatMessage.conversation_id == conversation_id,
            ChatMessage.client_msg_id == client_msg_id,
        )
    )


async def note_sent(
    session: AsyncSession, conversation_id: uuid.UUID, sender_id: uuid.UUID, seq: int
) -> list[uuid.UUID]:
    """Advance the sender's read-up-to to their message; every active participant's id."""
    # One round trip for both: the other rows are rewritten unchanged (read_seq is unindexed,
    # so PostgreSQL keeps these as cheap heap-only updates).
    rows = await session.execute(
        update(ChatParticipant)
        .where(
            ChatParticipant.conversation_id == conversation_id,
            ChatParticipant.left_at.is_(None),
        )
        .values(
            read_seq=case(
                (
                    and_(ChatParticipant.account_id == sender_id, ChatParticipant.read_seq < seq),
                    seq,
                ),
                else_=ChatParticipant.read_seq,
            )
        )
        .returning(ChatParticipant.account_id)
        .execution_options(synchronize_session=False)
    )
    return list(rows.scalars())


async def active_account_ids(session: AsyncSession, conversation_id: uuid.UUID) -> list[uuid.UUID]:
    """Every active participant's account id."""
    rows = await session.scalars(
        select(ChatParticipant.account_id).where(
            ChatParticipant.conversation_id == conversation_id,
            ChatParticipant.left_at.is_(None),
        )
    )
    return list(rows)


async def push_addresses(
    session: AsyncSession, account_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, str | None]]:
    """Each account's WeChat openid (the push address of patients; staff have none)."""
    rows = await session.execute(
        select(Account.id, Account.wechat_openid).where(Account.id.in_(list(account_ids)))
    )
    return [(account_id, openid) for account_id, openid in rows]


async def advance_read(
    session: AsyncSession, conversation_id: uuid.UUID, account_id: uuid.UUID, seq: int
) -> None:
    """Move the participant's read-up-to forward to `seq` (never backwards, even racing)."""
    await session.execute(
        update(ChatParticipant)
        .where(
            ChatParticipant.conversation_id == conversation_id,
            ChatParticipant.account_id == account_id,
        )
        .values(
            read_seq=case((ChatParticipant.read_seq < seq, seq), else_=ChatParticipant.read_seq)
        )
    )


async def read_seq_of(
    session: AsyncSession, conversation_id: uuid.UUID, account_id: uuid.UUID
) -> int:
    """The participant's current read-up-to."""
    value = await session.scalar(
        select(ChatParticipant.read_seq).where(
            ChatParticipant.conversation_id == conversation_id,
            ChatParticipant.account_id == account_id,
        )
    )
    return int(value or 0)


async def participants(
    session: AsyncSession, conversation_id: uuid.UUID
) -> Sequence[Row[uuid.UUID, str, str, int]]:
    """Active participants with name, role and read-up-to (read receipts)."""
    return (
        await session.execute(
            select(
                ChatParticipant.account_id,
                ChatParticipant.role,
                Account.display_name,
                ChatParticipant.read_seq,
            )
            .join(Account, Account.id == ChatParticipant.account_id)
            .where(
                ChatParticipant.conversation_id == conversation_id,
                ChatParticipant.left_at.is_(None),
            )
            .order_by(ChatParticipant.joined_at, ChatParticipant.account_id)
        )
    ).all()


async def get_message_by_seq(
    session: AsyncSession, conversation_id: uuid.UUID, seq: int
) -> ChatMessage | None:
    """A message by its place in the conversation."""
    return await session.scalar(
        select(ChatMessage).where(
            ChatMessage.conversation_id == conversation_id, ChatMessage.seq == seq
        )
    )


async def mark_recalled(session: AsyncSession, message_id: uuid.UUID, now: datetime) -> None:
    """Hide a message's body from participants (the row itself stays for audit)."""
    await session.execute(
        update(ChatMessage).where(ChatMessage.id == message_id).values(recalled_at=now)
    )


async def mark_attachment_recalled(
    session: AsyncSession, attachment_id: uuid.UUID, now: datetime
) -> None:
    """Hide a recalled message's file from participants (the blob stays for audit)."""
    await session.execute(
        update(ChatAttachment).where(ChatAttachment.id == attachment_id).values(recalled_at=now)
    )


async def messages_after(
    session: AsyncSession, conversation_id: uuid.UUID, after_seq: int, limit: int
) -> Sequence[ChatMessage]:
    """Messages with seq > after_seq, ascending."""
    return (
        await session.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conversation_id, ChatMessage.seq > after_seq)
            .order_by(ChatMessage.seq)
            .limit(limit)
        )
    ).all()


async def messages_before(
    session: AsyncSession, conversation_id: uuid.UUID, before_seq: int | None, limit: int
) -> Sequence[ChatMessage]:
    """The `limit` messages just before `before_seq` (the newest when None), descending."""
    statement = select(ChatMessage).where(ChatMessage.conversation_id == conversation_id)
    if before_seq is not None:
        statement = statement.where(ChatMessage.seq < before_seq)
    return (await session.scalars(statement.order_by(ChatMessage.seq.desc()).limit(limit))).all()


async def last_messages(
    session: AsyncSession, conversations: Sequence[ChatConversation]
) -> dict[uuid.UUID, ChatMessage]:
    """The newest message of each conversation (by its counter), in one query."""
    keys = [(c.id, c.last_seq) for c in conversations if c.last_seq > 0]
    if not keys:
        return {}
    rows = await session.scalars(
        select(ChatMessage).where(tuple_(ChatMessage.conversation_id, ChatMessage.seq).in_(keys))
    )
    return {m.conversation_id: m for m in rows}


async def add_attachment(session: AsyncSession, values: dict[str, Any]) -> ChatAttachment:
    """Record an uploaded file's metadata (its bytes are already in the blob store)."""
    attachment = ChatAttachment(**values)
    session.add(attachment)
    await session.flush()
    return attachment


async def get_attachment(
    session: AsyncSession, attachment_id: uuid.UUID, account_id: uuid.UUID
) -> tuple[ChatAttachment, ChatConversation] | None:
    """An attachment of a conversation the account takes part in, else None."""
    row = (
        await session.execute(
            select(ChatAttachment, ChatConversation)
            .join(ChatConversation, ChatConversation.id == ChatAttachment.conversation_id)
            .join(ChatParticipant, _active(account_id))
            .where(ChatAttachment.id == attachment_id, ChatAttachment.recalled_at.is_(None))
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def get_own_attachment(
    session: AsyncSession,
    attachment_id: uuid.UUID,
    conversation_id: uuid.UUID,
    uploader_id: uuid.UUID,
) -> ChatAttachment | None:
    """An attachment the account uploaded to this conversation, else None."""
    return await session.scalar(
        select(ChatAttachment).where(
            ChatAttachment.id == attachment_id,
            ChatAttachment.conversation_id == conversation_id,
            ChatAttachment.uploader_account_id == uploader_id,
        )
    )


async def create_conversation(
    session: AsyncSession, values: dict[str, Any], unique_column: str
) -> tuple[ChatConversation, bool]:
    """The conversation keyed by `unique_column`, and whether this call created it (False when
    a concurrent call did)."""
    created = await session.scalar(
        insert_ignoring_conflicts(session, ChatConversation, [unique_column])
        .values(**values)
        .returning(ChatConversation)
    )
    if created is not None:
        return created, True
    column = getattr(ChatConversation, unique_column)
    found = await session.scalar(
        select(ChatConversation)
        .where(column == values[unique_column])
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found, False


async def find_conversation(
    session: AsyncSession, unique_column: str, value: uuid.UUID
) -> ChatConversation | None:
    """The conversation of a care relationship or a team, if one exists."""
    column = getattr(ChatConversation, unique_column)
    return await session.scalar(select(ChatConversation).where(column == value))


async def all_participants(
    session: AsyncSession, conversation_id: uuid.UUID
) -> Sequence[ChatParticipant]:
    """Every participant row, past ones included."""
    return (
        await session.scalars(
            select(ChatParticipant).where(ChatParticipant.conversation_id == conversation_id)
        )
    ).all()


async def add_participants_ignoring(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Add participants in one executemany round trip; rows a racing call added are kept."""
    if rows:
        statement = insert_ignoring_conflicts(
            session, ChatParticipant, ["conversation_id", "account_id"]
        )
        await session.execute(statement, rows)


async def roles_of(session: AsyncSession, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Each account's role."""
    rows = await session.execute(
        select(Account.id, Account.role).where(Account.id.in_(list(account_ids)))
    )
    return {account_id: role for account_id, role in rows}
