"""A patient's sleep period (bed and rise time) from a sleep diary: what tells the asleep
readings of an ambulatory BP recording from the awake ones."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class BpSleepPeriod(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "bp_sleep_periods"
    __table_args__ = (
        # A retried upload of the same period finds the first one (its idempotency key).
        UniqueConstraint("patient_id", "bed_at"),
        CheckConstraint("rise_at > bed_at", name="rise_after_bed"),
        CheckConstraint("source IN ('patient','device')", name="source"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    bed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    rise_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Who said so: the patient's diary or the recorder (e.g. its event button or actigraphy).
    source: Mapped[str] = mapped_column(String(8), nullable=False)
