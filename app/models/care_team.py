"""Family-doctor teams: a family doctor, health managers and specialists caring together."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class CareTeam(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "care_teams"
    # A team is known by its name in its institution: a second one of that name (an admin's
    # double press) is refused, whatever the race.
    __table_args__ = (UniqueConstraint("institution_id", "name", name="uq_care_teams_name"),)

    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(64), nullable=False)


class CareTeamMember(Base):
    __tablename__ = "care_team_members"
    __table_args__ = (
        CheckConstraint("role IN ('family_doctor','health_manager','specialist')", name="role"),
        # Exactly one family doctor leads a team.
        Index(
            "uq_care_team_members_family_doctor",
            "team_id",
            unique=True,
            sqlite_where=text("role = 'family_doctor'"),
            postgresql_where=text("role = 'family_doctor'"),
        ),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("care_teams.id"), primary_key=True)
    doctor_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("doctors.id"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)


class CareTeamPatient(UUIDPrimaryKey, Base):
    __tablename__ = "care_team_patients"
    __table_args__ = (
        Index(
            "uq_care_team_patients_active",
            "team_id",
            "patient_id",
            unique=True,
            sqlite_where=text("left_at IS NULL"),
            postgresql_where=text("left_at IS NULL"),
        ),
    )

    team_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("care_teams.id"), nullable=False)
    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
