"""Follow-up plans for discharged patients and their scheduled follow-ups."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class FollowUpPlan(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "follow_up_plans"
    __table_args__ = (
        CheckConstraint("interval_days BETWEEN 1 AND 365", name="interval"),
        CheckConstraint("status IN ('active','ended')", name="status"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), nullable=False)
    discharged_on: Mapped[date] = mapped_column(Date, nullable=False)
    interval_days: Mapped[int] = mapped_column(Integer, nullable=False)
    # What each follow-up reviews, e.g. ["HbA1c", "home blood pressure diary", "foot exam"].
    review_items: Mapped[list[str]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=False
    )
    ends_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(8), nullable=False, default="active")


class FollowUp(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "follow_ups"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled','completed','missed','cancelled')", name="status"),
        Index("ix_follow_ups_doctor_due", "doctor_id", "status", "due_at"),
        Index("ix_follow_ups_reminder", "status", "reminded_at", "due_at"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("follow_up_plans.id"), nullable=False, index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), nullable=False)
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="scheduled")
    outcome_note: Mapped[str | None] = mapped_column(String(1000))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
