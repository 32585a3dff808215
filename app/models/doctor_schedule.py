"""Doctors' weekly working hours (city time) and their live presence and load."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Integer, SmallInteger, String, Time, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, UUIDPrimaryKey


class DoctorWorkingHours(UUIDPrimaryKey, Base):
    __tablename__ = "doctor_working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("ends_at > starts_at", name="order"),
    )

    doctor_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("doctors.id"), nullable=False, index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger, nullable=False)  # 0 = Monday
    starts_at: Mapped[time] = mapped_column(Time, nullable=False)  # Asia/Shanghai wall time
    ends_at: Mapped[time] = mapped_column(Time, nullable=False)


class DoctorPresence(Base):
    """What the doctor app last reported; it is offline once `expires_at` has passed."""

    __tablename__ = "doctor_presence"
    __table_args__ = (CheckConstraint("status IN ('online','busy','offline')", name="status"),)

    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The websocket connection that reported it: only its own closing sets the doctor offline.
    connection_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class DoctorLoad(Base):
    """Per-doctor counters kept in step with care relationships and the consultation queue.

    They rank candidates without counting 75,000 relationships per request. A new receiving
    doctor's place is taken by moving `active_patients` while it shows room (which locks this
    row); the capacity rule itself is then checked against an exact count under that lock,
    which also puts a drifted counter right, so a drifted counter can never let a doctor
    exceed capacity.
    """

    __tablename__ = "doctor_loads"
    __table_args__ = (
        CheckConstraint("active_patients >= 0", name="active_not_negative"),
        CheckConstraint("waiting_consultations >= 0", name="waiting_not_negative"),
    )

    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), primary_key=True)
    active_patients: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    waiting_consultations: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
