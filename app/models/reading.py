"""Readings from wearables: one row per (device, kind, measured time), partitioned by time on
PostgreSQL (see migration 0002_readings)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Double, Index, Integer, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base


class Reading(Base):
    __tablename__ = "readings"
    __table_args__ = (
        # Carries the CGM summary's columns: summaries read one patient's rows, which arrive
        # interleaved with everyone else's, by an index-only scan instead of a heap page each.
        Index(
            "ix_readings_patient_kind_time",
            "patient_id",
            "kind",
            "measured_at",
            postgresql_include=["value", "sample_interval_seconds"],
        ),
        {"postgresql_partition_by": "RANGE (measured_at)"},
    )

    # The primary key is the idempotency key of uploads; it includes the partition key.
    device_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # cgm | bg (finger-stick) | scan (on-demand CGM scan) | bp | hr | ecg
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    # No foreign keys: a partitioned table of this size is written by one path that checks the
    # device binding; the patient id is denormalised for per-patient range scans.
    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    utc_offset_minutes: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    # Canonical units: glucose mg/dL, blood pressure mmHg (systolic), heart rate bpm (ECG: mean).
    value: Mapped[float] = mapped_column(Double, nullable=False)
    # Diastolic (bp) or minimum heart rate (ecg).
    value2: Mapped[float | None] = mapped_column(Double)
    # Pulse (bp) or maximum heart rate (ecg).
    value3: Mapped[float | None] = mapped_column(Double)
    # 'low' / 'high': the device reported below / above its measuring range (value = that edge).
    flag: Mapped[str | None] = mapped_column(String(4))
    # What the device sent, before conversion to the canonical unit (glucose only).
    original_value: Mapped[float | None] = mapped_column(Double)
    original_unit: Mapped[str | None] = mapped_column(String(8))
    # sitting | standing | lying (bp); sinus | af | other (ecg rhythm).
    label: Mapped[str | None] = mapped_column(String(12))
    sample_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    # bp: where it was measured (office | home | ambulatory; null: not said) and whether the
    # wearer was awake (the device's or patient's per-reading wake flag; null: not said).
    setting: Mapped[str | None] = mapped_column(String(10))
    awake: Mapped[bool | None] = mapped_column(Boolean)
    # What a CGM uploader said besides the value (Nightscout `direction`, `noise`, raw
    # `filtered`/`unfiltered` and its `device` string); null for everything else.
    trend: Mapped[str | None] = mapped_column(String(20))
    noise: Mapped[int | None] = mapped_column(SmallInteger)
    filtered: Mapped[float | None] = mapped_column(Double)
    unfiltered: Mapped[float | None] = mapped_column(Double)
    source_device: Mapped[str | None] = mapped_column(String(64))
    backfilled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    source: Mapped[str] = mapped_column(String(12), nullable=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
