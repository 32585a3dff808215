"""Care relationships: which doctor cares for which patient, at which institution, since when."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class CareRelationship(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "care_relationships"
    __table_args__ = (
        Index("ix_care_relationships_doctor_active", "doctor_id", "ended_at"),
        # A patient has at most one active relationship with a given doctor.
        Index(
            "uq_care_relationships_active_pair",
            "patient_id",
            "doctor_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), nullable=False)
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    # primary = the receiving doctor; team = a member of the family-doctor team.
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="primary")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
