"""Single-lead ECG strips from wearables: metadata and analysis here, samples in the blob store."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class EcgStrip(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "ecg_strips"
    __table_args__ = (
        # The idempotency key of uploads: a device records one strip at a time.
        UniqueConstraint("device_id", "recorded_at", name="uq_ecg_strips_device_recorded"),
        CheckConstraint("source IN ('fhir','apple_csv')", name="source"),
        CheckConstraint("sampling_rate_hz > 0", name="sampling_rate"),
        CheckConstraint("sample_count > 0", name="sample_count"),
        Index("ix_ecg_strips_patient_recorded", "patient_id", "recorded_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("devices.id"), nullable=False)
    # Start of the recording (UTC) and the device's UTC offset at the time.
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    utc_offset_minutes: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    source: Mapped[str] = mapped_column(String(12), nullable=False)
    # Lead as named by the device ("I" for a watch's "similar to lead I").
    lead: Mapped[str] = mapped_column(String(16), nullable=False)
    sampling_rate_hz: Mapped[float] = mapped_column(Double, nullable=False)
    sample_count: Mapped[int] = mapped_column(Integer, nullable=False)
    # The samples: little-endian float64 microvolts, `sample_count` of them.
    blob_key: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    samples_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    # The device's own rhythm classification: normalised (sinus, af, low_hr, high_hr,
    # inconclusive, poor_recording, other) and as the device wrote it.
    device_rhythm: Mapped[str | None] = mapped_column(String(16))
    device_rhythm_text: Mapped[str | None] = mapped_column(String(80))
    # Computed here: mean heart rate, R peaks (sample positions), RR irregularity.
    heart_rate_bpm: Mapped[float | None] = mapped_column(Double)
    r_peaks: Mapped[list[int]] = mapped_column(JSON, nullable=False)
    rr_nrmssd: Mapped[float | None] = mapped_column(Double)
    rr_irregular: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # Irregular RR or the device said AF: raises the irregular-rhythm alert when live.
    possible_af: Mapped[bool] = mapped_column(Boolean, nullable=False)
