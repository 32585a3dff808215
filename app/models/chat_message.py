"""Chat messages: numbered per conversation, never deleted (a recall only hides the body)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey

MESSAGE_KINDS = (
    "text",
    "image",
    "voice",
    "file",
    "video",
    "location",
    "card",
    "notice",
    "recall",
)


class ChatMessage(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
        # A retried send finds its original instead of storing a second message.
        UniqueConstraint(
            "conversation_id", "client_msg_id", name="uq_chat_messages_conversation_client_msg"
        ),
        # The server's own idempotency keys (a recall per recalled seq, a notice per dedupe
        # key) live apart from the ids clients choose, so no client id can take one.
        UniqueConstraint(
            "conversation_id", "server_key", name="uq_chat_messages_conversation_server_key"
        ),
        CheckConstraint(
            "(client_msg_id IS NULL) <> (server_key IS NULL)", name="one_idempotency_key"
        ),
        CheckConstraint(
            "(kind IN ('notice','recall')) = (server_key IS NOT NULL)", name="server_key_kind"
        ),
        CheckConstraint(
            "kind IN ('text','image','voice','file','video','location','card','notice','recall')",
            name="kind",
        ),
        # Who may fetch a file: participants of a conversation where a live message carries it.
        Index(
            "ix_chat_messages_attachment",
            "attachment_id",
            sqlite_where=text("attachment_id IS NOT NULL"),
            postgresql_where=text("attachment_id IS NOT NULL"),
        ),
        CheckConstraint("seq > 0", name="seq"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_conversations.id"), nullable=False
    )
    seq: Mapped[int] = mapped_column(Integer, nullable=False)
    # None for system notices.
    sender_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
    # Chosen by the sending client; None for what the server makes (notices, recalls).
    client_msg_id: Mapped[str | None] = mapped_column(String(80))
    # The server's idempotency key of a notice ("notice:<key>") or recall ("recall:<seq>").
    server_key: Mapped[str | None] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=False
    )
    # Kept for audit; participants never see the body again once this is set.
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The file an image, voice, file or video message carries (also in the body, for clients).
    attachment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("chat_attachments.id"))
    # The earlier message of the same conversation this one quotes (replies to).
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("chat_messages.id"))
    # The message this one is a forwarded copy of (another conversation of the sender's).
    forwarded_from_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("chat_messages.id")
    )
    # The quoted message, loaded with this one (one join) so its preview needs no query of
    # its own and shows a recall made after the quote.
    reply_to: Mapped[ChatMessage | None] = relationship(
        foreign_keys=[reply_to_id], remote_side="ChatMessage.id", lazy="joined", join_depth=1
    )
