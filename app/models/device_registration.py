"""Serials of devices handed out in the pilot, each with the pairing code that proves possession.

The vendor's delivery manifest (or the clinic that hands the device over) registers a serial with
the pairing code printed in the box or shown by the device's app; a patient who binds that serial
must give the code. Only a keyed hash of the code is kept.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class DeviceRegistration(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "device_registrations"
    __table_args__ = (
        UniqueConstraint("kind", "serial"),
        CheckConstraint("kind IN ('cgm','bp','ecg','meter')", name="kind"),
        CheckConstraint("source IN ('vendor','clinic')", name="source"),
    )

    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    serial: Mapped[str] = mapped_column(String(64), nullable=False)
    # Blind index (keyed HMAC) of the pairing code: short codes stay unguessable offline.
    pairing_code_index: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    registered_by: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), nullable=False
    )


class DevicePairingFailure(Base):
    """Wrong pairing codes one patient gave for one registered serial (guessing is capped per
    patient, so a stranger's guesses never lock the owner out)."""

    __tablename__ = "device_pairing_failures"

    registration_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("device_registrations.id"), primary_key=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
