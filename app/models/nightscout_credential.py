"""Per-patient Nightscout credentials: off-the-shelf uploaders post into the patient's account."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class NightscoutCredential(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "nightscout_credentials"

    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, unique=True
    )
    # Keyed hash (blind index) of sha1(secret): uploaders send sha1 hex, we never keep either.
    secret_index: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    # Where the uploader's readings land (a CGM device of source 'nightscout').
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("devices.id"), nullable=False)
    rotated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
