"""Referrals of a patient up to a higher-level hospital or down to community care."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, UUIDPrimaryKey


class Referral(UUIDPrimaryKey, Base):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint("direction IN ('up','down')", name="direction"),
        CheckConstraint("priority IN ('normal','priority')", name="priority"),
        CheckConstraint(
            "status IN ('requested','accepted','rejected','completed','cancelled')",
            name="status",
        ),
        UniqueConstraint("from_doctor_id", "idempotency_key", name="uq_referrals_key"),
        # One open referral per patient at a time.
        Index(
            "uq_referrals_open",
            "patient_id",
            unique=True,
            sqlite_where=text("status IN ('requested','accepted')"),
            postgresql_where=text("status IN ('requested','accepted')"),
        ),
        Index("ix_referrals_incoming", "to_institution_id", "status", "priority"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    direction: Mapped[str] = mapped_column(String(4), nullable=False)
    # Referrals made by the patient's family doctor are seen first by the receiving hospital.
    priority: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="requested")
    from_doctor_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("doctors.id"), nullable=False, index=True
    )
    from_institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    to_institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    to_doctor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("doctors.id"))
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # The access the receiving doctor got with acceptance; it ends with the referral.
    care_relationship_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("care_relationships.id")
    )
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
