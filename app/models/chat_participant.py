"""Who takes part in a conversation, and how far each has read."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base


class ChatParticipant(Base):
    __tablename__ = "chat_participants"
    __table_args__ = (
        Index("ix_chat_participants_account", "account_id", "left_at"),
        CheckConstraint("read_seq >= 0", name="read_seq"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_conversations.id"), primary_key=True
    )
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("accounts.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    # "Read up to": every message with seq <= read_seq counts as read (own messages included).
    read_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # A participant who left (team member removed, care ended) no longer sees the conversation.
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
