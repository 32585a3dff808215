"""Chat conversations: one per care relationship, or a family-doctor team's group."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class ChatConversation(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "chat_conversations"
    __table_args__ = (
        CheckConstraint("kind IN ('care','team')", name="kind"),
        CheckConstraint(
            "(kind = 'care' AND care_relationship_id IS NOT NULL AND team_key IS NULL) OR "
            "(kind = 'team' AND team_key IS NOT NULL AND care_relationship_id IS NULL)",
            name="owner",
        ),
        CheckConstraint("last_seq >= 0", name="last_seq"),
    )

    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    care_relationship_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("care_relationships.id"), unique=True
    )
    # The family-doctor team this group belongs to (owned by the care domain).
    team_key: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    # Whose health data the conversation holds (care conversations), for the audit trail.
    patient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("patients.id"))
    title: Mapped[str | None] = mapped_column(String(128))
    # The sequence counter: the row is locked while a message takes the next number, so the
    # numbers of committed messages are 1..last_seq without gaps.
    last_seq: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the care relationship ended: history stays readable, nobody can send.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
