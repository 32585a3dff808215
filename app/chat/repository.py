"""SQL for conversations, participants and messages (always filtered by participation)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    String,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import insert_ignoring_conflicts, named_dialect_insert, one_of
from app.models import (
    Account,
    CareRelationship,
    ChatAttachment,
    ChatConversation,
    ChatMessage,
    ChatParticipant,
    Doctor,
    Patient,
)


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


@dataclass(frozen=True)
class Claim:
    """The seq taken, whether the conversation is closed, and the message already stored
    under the sender's client message id (None when there is none, or none was given)."""

    seq: int
    closed_at: datetime | None
    stored_id: uuid.UUID | None


def _claim_statement(member_only: bool, with_key: bool) -> Any:
    # Built once (below), executed with parameters: building and hashing a statement on every
    # message cost about a tenth of a send's CPU. (Parameter names are not column names, which
    # an UPDATE reserves for its SET clause.)
    conversation = bindparam("conversation", type_=ChatConversation.id.type)
    statement = update(ChatConversation).where(ChatConversation.id == conversation)
    if member_only:
        statement = statement.where(
            exists().where(
                ChatParticipant.conversation_id == conversation,
                ChatParticipant.account_id
                == bindparam("sender", type_=ChatParticipant.account_id.type),
                ChatParticipant.left_at.is_(None),
            )
        )
    # A client's send also looks up its message id in the same round trip: a retry of a
    # message stored before the lock was taken is found here, one stored while it was waited
    # for by the INSERT's conflict.
    stored = (
        select(ChatMessage.id)
        .where(
            ChatMessage.conversation_id == conversation,
            ChatMessage.client_msg_id == bindparam("key", type_=String()),
        )
        .scalar_subquery()
        if with_key
        else null()
    )
    return (
        statement.values(
            last_seq=ChatConversation.last_seq + 1,
            last_message_at=bindparam("at", type_=ChatConversation.last_message_at.type),
        )
        .returning(ChatConversation.last_seq, ChatConversation.closed_at, stored)
        .execution_options(synchronize_session=False)
    )


# By whether the sender must be an active participant (a person's send) or not (the server's),
# and whether a client message id is looked up with it (only a person's send has one).
_CLAIM = {
    (member_only, with_key): _claim_statement(member_only, with_key)
    for member_only, with_key in ((True, True), (True, False), (False, False))
}


async def claim_next_seq(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    sender_id: uuid.UUID | None,
    now: datetime,
    client_msg_id: str | None = None,
) -> Claim | None:
    """Lock the conversation's counter row and take the next seq, or None when the
    conversation does not exist or `sender_id` does not take part in it."""
    # One statement locks, checks membership and counts. The row lock is held until commit, so
    # committed seqs are 1..N without gaps; a rollback returns the number with everything else.
    parameters: dict[str, Any] = {"conversation": conversation_id, "at": now}
    if sender_id is not None:
        parameters["sender"] = sender_id
    if client_msg_id is not None:
        parameters["key"] = client_msg_id
    statement = _CLAIM[sender_id is not None, client_msg_id is not None]
    row = (await session.execute(statement, parameters)).one_or_none()
    return None if row is None else Claim(row[0], row[1], row[2])


async def give_back_seq(session: AsyncSession, conversation_id: uuid.UUID) -> None:
    """Undo `claim_next_seq` (the lock is still held, so nobody has numbered since)."""
    await session.execute(
        update(ChatConversation)
        .where(ChatConversation.id == conversation_id)
        .values(last_seq=ChatConversation.last_seq - 1)
        .execution_options(synchronize_session=False)
    )


@cache
def _insert_message_statement(dialect: str, key_column: str) -> Any:
    # Built once per database and key, the values passed as parameters (like `_CLAIM`).
    return (
        named_dialect_insert(dialect, ChatMessage)
        .on_conflict_do_nothing(index_elements=["conversation_id", key_column])
        .returning(ChatMessage.id)
    )


async def insert_message(session: AsyncSession, values: dict[str, Any], key_column: str) -> bool:
    """Store a message unless its idempotency key (`client_msg_id` or `server_key`, whichever
    `key_column` names) is already in the conversation."""
    statement = _insert_message_statement(session.get_bind().dialect.name, key_column)
    result = await session.execute(statement, values)
    return result.first() is not None


# A message by one of its idempotency keys, built once per key column.
_BY_KEY = {
    key_column: select(ChatMessage).where(
        ChatMessage.conversation_id
        == bindparam("conversation", type_=ChatMessage.conversation_id.type),
        getattr(ChatMessage, key_column) == bindparam("key", type_=String()),
    )
    for key_column in ("client_msg_id", "server_key")
}


async def find_by_key(
    session: AsyncSession, conversation_id: uuid.UUID, key_column: str, key: str
) -> ChatMessage | None:
    """The message stored under an idempotency key: a client's message id (`key_column`
    "client_msg_id") or the server's own key of a recall or notice ("server_key")."""
    return await session.scalar(_BY_KEY[key_column], {"conversation": conversation_id, "key": key})


def _note_sent_update(conversation: Any, sender: Any, seq: Any) -> Any:
    # The sender's read-up-to moves to their message; every active participant's id comes
    # back. One statement for both: the other rows are rewritten unchanged (read_seq is
    # unindexed, so PostgreSQL keeps these as cheap heap-only updates).
    return (
        update(ChatParticipant)
        .where(ChatParticipant.conversation_id == conversation, ChatParticipant.left_at.is_(None))
        .values(
            read_seq=case(
                (and_(ChatParticipant.account_id == sender, ChatParticipant.read_seq < seq), seq),
                else_=ChatParticipant.read_seq,
            )
        )
        .returning(ChatParticipant.account_id)
    )


# Built once, like `_CLAIM`.
_NOTE_SENT = _note_sent_update(
    bindparam("conversation", type_=ChatParticipant.conversation_id.type),
    bindparam("sender", type_=ChatParticipant.account_id.type),
    bindparam("seq", type_=ChatParticipant.read_seq.type),
).execution_options(synchronize_session=False)

_MESSAGE_TABLE = cast(Table, ChatMessage.__table__)


@cache
def _insert_and_note_statement(key_column: str) -> Any:
    # PostgreSQL: the INSERT and the read-up-to UPDATE in one round trip (data-modifying CTEs);
    # the UPDATE runs only when the INSERT stored the message. Built once per key column. The
    # parameters are not named after columns: the UPDATE would SET those of its table.
    values = {c.name: bindparam(f"m_{c.name}", type_=c.type) for c in _MESSAGE_TABLE.columns}
    new = (
        postgresql.insert(_MESSAGE_TABLE)
        .values(values)
        .on_conflict_do_nothing(index_elements=["conversation_id", key_column])
        .returning(_MESSAGE_TABLE.c.id)
        .cte("new")
    )
    noted = (
        _note_sent_update(values["conversation_id"], values["sender_account_id"], values["seq"])
        .where(exists(select(new.c.id)))
        .cte("noted")
    )
    return select(
        select(new.c.id).scalar_subquery(),
        select(func.array_agg(noted.c.account_id)).scalar_subquery(),
    )


async def insert_sent_message(
    session: AsyncSession, values: dict[str, Any], key_column: str
) -> list[uuid.UUID] | None:
    """Store a participant's message unless its idempotency key is already in the
    conversation (None then) and advance the sender's read-up-to to it (whoever writes has
    read everything before: unread stays last_seq - read_seq); every active participant's id."""
    if session.get_bind().dialect.name != "postgresql":
        if not await insert_message(session, values, key_column):
            return None
        return await _note_sent(
            session, values["conversation_id"], values["sender_account_id"], values["seq"]
        )
    parameters = {f"m_{c.name}": values.get(c.name) for c in _MESSAGE_TABLE.columns}
    row = (await session.execute(_insert_and_note_statement(key_column), parameters)).one()
    return None if row[0] is None else list(row[1] or ())


async def _note_sent(
    session: AsyncSession, conversation_id: uuid.UUID, sender_id: uuid.UUID, seq: int
) -> list[uuid.UUID]:
    """Advance the sender's read-up-to to their message; every active participant's id."""
    rows = await session.execute(
        _NOTE_SENT, {"conversation": conversation_id, "sender": sender_id, "seq": seq}
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


async def counterparts(
    session: AsyncSession, conversation_ids: Sequence[uuid.UUID], viewer_id: uuid.UUID
) -> dict[uuid.UUID, Row[uuid.UUID, uuid.UUID, str, str]]:
    """Per care conversation, the other party as `viewer_id` sees it: (conversation id,
    account id, role, display name), past participants included (a closed conversation
    still shows whom it was with)."""
    if not conversation_ids:
        return {}
    rows = await session.execute(
        select(
            ChatParticipant.conversation_id,
            ChatParticipant.account_id,
            ChatParticipant.role,
            Account.display_name,
        )
        .join(Account, Account.id == ChatParticipant.account_id)
        .join(ChatConversation, ChatConversation.id == ChatParticipant.conversation_id)
        .where(
            one_of(session, ChatParticipant.conversation_id, conversation_ids),
            ChatParticipant.account_id != viewer_id,
            ChatConversation.kind == "care",
        )
    )
    return {row.conversation_id: row for row in rows}


async def patient_names(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID], scope: ColumnElement[bool]
) -> dict[uuid.UUID, str]:
    """The registered names of those patients the `scope` lets the caller see."""
    if not patient_ids:
        return {}
    rows = await session.execute(
        select(Patient.id, Patient.name).where(
            one_of(session, Patient.id, patient_ids), Patient.name.is_not(None), scope
        )
    )
    return {patient_id: name for patient_id, name in rows if name is not None}


async def get_message(session: AsyncSession, message_id: uuid.UUID) -> ChatMessage | None:
    """A message by its id (the caller checks whose conversation it is in)."""
    return await session.scalar(select(ChatMessage).where(ChatMessage.id == message_id))


async def patient_accounts(
    session: AsyncSession, conversation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """The patient's account of each conversation (a care conversation and a team's group are
    each about one patient, who takes part in it)."""
    rows = await session.execute(
        select(ChatParticipant.conversation_id, ChatParticipant.account_id).where(
            one_of(session, ChatParticipant.conversation_id, conversation_ids),
            ChatParticipant.role == "patient",
        )
    )
    return {conversation_id: account_id for conversation_id, account_id in rows}


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


async def messages_since(
    session: AsyncSession, cursors: dict[uuid.UUID, int], limit: int
) -> Sequence[ChatMessage]:
    """In one query, the first `limit` messages after each conversation's cursor seq (the
    keys are the conversations to read), ascending by conversation, then seq."""
    if not cursors:
        return ()
    after = case(cursors, value=ChatMessage.conversation_id, else_=0)
    return (
        await session.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id.in_(list(cursors)), ChatMessage.seq > after)
            .order_by(ChatMessage.conversation_id, ChatMessage.seq)
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
    """An attachment the account may fetch, with the conversation it reaches them through: one
    the account takes part in that it was uploaded to, or where a live message (a forwarded
    copy) carries it; else None."""
    carried_in = select(ChatMessage.conversation_id).where(
        ChatMessage.attachment_id == attachment_id, ChatMessage.recalled_at.is_(None)
    )
    row = (
        await session.execute(
            select(ChatAttachment, ChatConversation)
            .join(
                ChatConversation,
                or_(
                    ChatConversation.id == ChatAttachment.conversation_id,
                    ChatConversation.id.in_(carried_in),
                ),
            )
            .join(ChatParticipant, _active(account_id))
            .where(
                ChatAttachment.id == attachment_id,
                ChatAttachment.recalled_at.is_(None),
                ChatAttachment.expired_at.is_(None),
            )
            .order_by(ChatConversation.id != ChatAttachment.conversation_id)
            .limit(1)
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


async def mark_attachment_sent(
    session: AsyncSession, attachment_id: uuid.UUID, now: datetime, unsent_cutoff: datetime
) -> bool:
    """Record that a message carries the attachment; False if it expired meanwhile (the row
    lock orders this against the expiry job's claim, whichever comes first wins)."""
    result = await session.execute(
        update(ChatAttachment)
        .where(
            ChatAttachment.id == attachment_id,
            ChatAttachment.expired_at.is_(None),
            or_(ChatAttachment.sent_at.is_not(None), ChatAttachment.created_at >= unsent_cutoff),
        )
        .values(sent_at=func.coalesce(ChatAttachment.sent_at, now))
        .returning(ChatAttachment.id)
        .execution_options(synchronize_session=False)
    )
    return result.first() is not None


async def lock_uploader(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Row-lock the uploader's account until commit: one quota check at a time per user."""
    await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())


async def unsent_usage(
    session: AsyncSession, account_id: uuid.UUID, unsent_cutoff: datetime
) -> tuple[int, int]:
    """(count, bytes) of the account's attachments that are unsent and not yet expired."""
    count, size = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(ChatAttachment.size_bytes), 0)).where(
                ChatAttachment.uploader_account_id == account_id,
                ChatAttachment.sent_at.is_(None),
                ChatAttachment.expired_at.is_(None),
                ChatAttachment.created_at >= unsent_cutoff,
            )
        )
    ).one()
    return int(count), int(size)


async def claim_expired_attachments(
    session: AsyncSession, unsent_cutoff: datetime, now: datetime, limit: int
) -> list[tuple[uuid.UUID, str]]:
    """Mark up to `limit` unsent attachments older than the cutoff expired, and pick up ones
    an interrupted pass marked; (id, blob key) of each. Rows another pass holds are skipped."""
    ids = list(
        await session.scalars(
            select(ChatAttachment.id)
            .where(
                ChatAttachment.sent_at.is_(None),
                or_(
                    ChatAttachment.expired_at.is_not(None),
                    ChatAttachment.created_at < unsent_cutoff,
                ),
            )
            .order_by(ChatAttachment.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    rows = await session.execute(
        update(ChatAttachment)
        .where(ChatAttachment.id.in_(ids), ChatAttachment.sent_at.is_(None))
        .values(expired_at=func.coalesce(ChatAttachment.expired_at, now))
        .returning(ChatAttachment.id, ChatAttachment.blob_key)
        .execution_options(synchronize_session=False)
    )
    return [(attachment_id, key) for attachment_id, key in rows]


async def delete_attachments(session: AsyncSession, attachment_ids: Sequence[uuid.UUID]) -> None:
    """Remove expired attachment rows whose blobs are gone (never a sent one)."""
    await session.execute(
        delete(ChatAttachment).where(
            ChatAttachment.id.in_(list(attachment_ids)),
            ChatAttachment.sent_at.is_(None),
            ChatAttachment.expired_at.is_not(None),
        )
    )


async def object_patient(
    session: AsyncSession, model: Any, ref_id: uuid.UUID, scope: ColumnElement[bool]
) -> uuid.UUID | None:
    """The patient of row `ref_id` of `model` (a patient is its own), if `scope` lets the
    caller see it; None for an unknown or out-of-scope id."""
    patient_id = model.id if model is Patient else model.patient_id
    return cast(
        "uuid.UUID | None",
        await session.scalar(select(patient_id).where(model.id == ref_id, scope)),
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


async def care_accounts(
    session: AsyncSession, care_relationship_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """The accounts of a care relationship's patient and doctor."""
    row = (
        await session.execute(
            select(Patient.account_id, Doctor.account_id)
            .select_from(CareRelationship)
            .join(Patient, Patient.id == CareRelationship.patient_id)
            .join(Doctor, Doctor.id == CareRelationship.doctor_id)
            .where(CareRelationship.id == care_relationship_id)
        )
    ).one()
    return row[0], row[1]
