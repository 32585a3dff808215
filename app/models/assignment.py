"""Assignment decisions (with their score breakdown) and consultation requests (the queue)."""

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
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, UUIDPrimaryKey

_JSON = JSON().with_variant(JSONB(), "postgresql")


class AssignmentDecision(UUIDPrimaryKey, Base):
    """Why a doctor was chosen: every factor's value, weight and share, and the runners-up."""

    __tablename__ = "assignment_decisions"
    __table_args__ = (
        CheckConstraint(
            "purpose IN ('enrollment','consultation','change_doctor','transfer','handoff')",
            name="purpose",
        ),
        Index("ix_assignment_decisions_patient_time", "patient_id", "decided_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), nullable=False)
    requested_institution_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("institutions.id")
    )
    urgency_level: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    total_score: Mapped[float] = mapped_column(nullable=False)
    candidates_considered: Mapped[int] = mapped_column(Integer, nullable=False)
    # {"weights": {...}, "chosen": {factor: {value, weight, points}}, "runners_up": [...], ...}
    breakdown: Mapped[dict[str, Any]] = mapped_column(_JSON, nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_by_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))


class ConsultationRequest(UUIDPrimaryKey, Base):
    __tablename__ = "consultation_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('waiting','in_consultation','completed','cancelled')", name="status"
        ),
        # One open request per patient: asking again while waiting is refused (or replayed).
        Index(
            "uq_consultation_requests_open",
            "patient_id",
            unique=True,
            sqlite_where=text("status IN ('waiting','in_consultation')"),
            postgresql_where=text("status IN ('waiting','in_consultation')"),
        ),
        UniqueConstraint("patient_id", "idempotency_key", name="uq_consultation_requests_key"),
        Index("ix_consultation_requests_queue", "doctor_id", "status", "urgency_level"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="waiting")
    urgency_level: Mapped[int] = mapped_column(SmallInteger, nullable=False, default=0)
    reason: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    decision_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("assignment_decisions.id"), nullable=False
    )
    # The access a non-care doctor was given for this consultation (ended with it), if any.
    care_relationship_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("care_relationships.id")
    )
    # Waiting time counts from here, across hand-overs to other doctors.
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handoffs: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
