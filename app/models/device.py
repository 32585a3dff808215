"""Wearable devices a patient has bound: CGMs, BP monitors, ECG patches and finger-stick meters."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Device(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "devices"
    __table_args__ = (
        CheckConstraint("kind IN ('cgm','bp','ecg','meter')", name="kind"),
        CheckConstraint("unit IN ('mg/dL','mmol/L','mmHg','bpm')", name="unit"),
        CheckConstraint("source IN ('app','nightscout','import')", name="source"),
        # A physical device is bound to one patient at a time once someone proved they hold it
        # (its pairing code); unbinding frees its serial. Unproven claims do not take the serial,
        # so nobody can block its owner by naming it first.
        Index(
            "uq_devices_verified_serial",
            "kind",
            "serial",
            unique=True,
            sqlite_where=text("unbound_at IS NULL AND verified"),
            postgresql_where=text("unbound_at IS NULL AND verified"),
        ),
        Index("ix_devices_kind_serial", "kind", "serial"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    model: Mapped[str] = mapped_column(String(64), nullable=False)
    serial: Mapped[str] = mapped_column(String(64), nullable=False)
    # The unit the device reports its main value in (glucose devices: mg/dL or mmol/L).
    unit: Mapped[str] = mapped_column(String(8), nullable=False)
    # Nominal seconds between samples: weights each CGM reading in time-in-range metrics.
    sample_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    # Measuring range of a glucose device in mg/dL; LOW/HIGH sentinels are stored at its edges.
    range_low_mg_dl: Mapped[float | None] = mapped_column(Double)
    range_high_mg_dl: Mapped[float | None] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(16), nullable=False, default="app")
    # The binder proved possession (pairing code of a registered serial); see DeviceRegistration.
    verified: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    unbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
