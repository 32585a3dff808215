"""Images, voice clips, files and videos uploaded to a conversation; the bytes live in the blob
store."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class ChatAttachment(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "chat_attachments"
    __table_args__ = (
        CheckConstraint("kind IN ('image','voice','file','video')", name="kind"),
        # The quota counts, and the expiry job finds, a user's unsent attachments.
        Index(
            "ix_chat_attachments_unsent",
            "uploader_account_id",
            "created_at",
            sqlite_where=text("sent_at IS NULL"),
            postgresql_where=text("sent_at IS NULL"),
        ),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chat_conversations.id"), nullable=False, index=True
    )
    uploader_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), nullable=False
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    content_type: Mapped[str] = mapped_column(String(128), nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    # A file's name as the uploader gave it (path and control characters removed).
    file_name: Mapped[str | None] = mapped_column(String(128))
    blob_key: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    # Set when the message carrying it is recalled: participants cannot fetch it any more.
    recalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a message first carries it. Until then it counts against the uploader's quota
    # of unsent attachments, and after CHAT_ATTACHMENT_UNSENT_TTL_SECONDS it expires.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the expiry job claims an unsent attachment: it can no longer be sent or fetched,
    # and the row goes once its blob is deleted.
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
