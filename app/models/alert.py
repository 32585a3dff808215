"""Live alerts raised from incoming readings: one per episode, acknowledged by a doctor."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Double, ForeignKey, Index, SmallInteger, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey

# The rules an alert can come from (app/alert/rules.py raises them).
ALERT_RULES = ("urgent_low", "sustained_high", "bp_grade3", "signal_loss", "irregular_rhythm")
_RULE_LIST = ",".join(f"'{rule}'" for rule in ALERT_RULES)


class Alert(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(f"rule IN ({_RULE_LIST})", name="rule"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level"),
        # Once per episode: a second alert of a rule waits until the first one's episode ends.
        Index(
            "uq_alerts_open_episode",
            "patient_id",
            "rule",
            unique=True,
            sqlite_where=text("episode_ended_at IS NULL"),
            postgresql_where=text("episode_ended_at IS NULL"),
        ),
        Index("ix_alerts_patient_unacknowledged", "patient_id", "acknowledged_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    rule: Mapped[str] = mapped_column(String(16), nullable=False)
    # 1 watch, 2 high, 3 urgent.
    level: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    # The reading that raised it (glucose mg/dL or systolic; diastolic in value2).
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    value: Mapped[float | None] = mapped_column(Double)
    value2: Mapped[float | None] = mapped_column(Double)
    episode_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
