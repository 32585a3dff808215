"""Images and voice clips uploaded to a conversation; the bytes live in the blob store."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class ChatAttachment(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "chat_attachments"
    __table_args__ = (CheckConstraint("kind IN ('image','voice')", name="kind"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_conversations.id"), nullable=False, index=True
    )
    uploader_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    blob_key: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    # Set when the message carrying it is recalled: participants cannot fetch it any more.
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
