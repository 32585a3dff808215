"""Each patient's latest reading per kind, kept at ingestion: the doctor's panel reads it."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, Double, Integer, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base


class ReadingLatest(Base):
    __tablename__ = "reading_latest"

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    measured_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    utc_offset_minutes: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    value: Mapped[float] = mapped_column(Double, nullable=False)
    value2: Mapped[float | None] = mapped_column(Double)
    value3: Mapped[float | None] = mapped_column(Double)
    flag: Mapped[str | None] = mapped_column(String(4))
    # CGM daily rollups from this local date on are out of date (None: all current); `version`
    # grows with every upload so a refresh clears the mark only if nothing arrived meanwhile.
    stale_from: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
