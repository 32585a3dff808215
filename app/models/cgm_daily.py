"""Per-patient, per-local-day CGM accumulators: the doctor's panel adds 14 of them up."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, Double, Integer, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base


class CgmDaily(Base):
    __tablename__ = "cgm_daily"

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    local_date: Mapped[date] = mapped_column(Date, primary_key=True)
    readings: Mapped[int] = mapped_column(Integer, nullable=False)
    value_sum: Mapped[float] = mapped_column(Double, nullable=False)
    # Sum of squared deviations from the day's mean (merged exactly across days, see cgm.py).
    squared_deviations: Mapped[float] = mapped_column(Double, nullable=False)
    # Seconds covered by readings (time-weighted), in total and per consensus band.
    covered_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    very_low_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    low_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    in_range_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    high_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    very_high_seconds: Mapped[float] = mapped_column(Double, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
