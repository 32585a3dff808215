"""Care relationships: which doctor cares for which patient, at which institution, since when."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Uuid, text
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
        # A patient has at most one active primary (receiving) doctor, whatever the race.
        Index(
            "uq_care_relationships_one_primary",
            "patient_id",
            unique=True,
            sqlite_where=text("kind = 'primary' AND ended_at IS NULL"),
            postgresql_where=text("kind = 'primary' AND ended_at IS NULL"),
        ),
        CheckConstraint("kind IN ('primary','team','consult','referral')", name="kind"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), nullable=False)
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    # primary = the receiving doctor; team = a member of the family-doctor team; consult = a
    # doctor seeing the patient for one consultation; referral = the receiving doctor of a
    # referral while it lasts.
    kind: Mapped[str] = mapped_column(String(16), nullable=False, default="primary")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set for kind = team: the family-doctor team that gives this access.
    team_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("care_teams.id"))
    # Why it ended (changed_doctor, transferred, consultation_ended, left_team, ...).
    ended_reason: Mapped[str | None] = mapped_column(String(32))
