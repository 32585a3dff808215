"""Periods in the patient's local time, and readings loaded as numeric arrays."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import repository as analytics_repository
from app.analytics.cgm import Accumulator, FloatArray, accumulate, weights
from app.device.schemas import MAX_INTERVAL_SECONDS

EPOCH_DATE = date(1970, 1, 1)


@dataclass(frozen=True)
class Period:
    """Whole local days [start_date, end_date]; `end` stops at now for today."""

    start_date: date
    end_date: date
    start: datetime
    end: datetime
    timezone: ZoneInfo

    @property
    def days(self) -> int:
        """Number of local days in the period."""
        return (self.end_date - self.start_date).days + 1

    @property
    def seconds(self) -> float:
        """Length of the period so far."""
        return max((self.end - self.start).total_seconds(), 0.0)


def local_period(timezone: ZoneInfo, end_date: date | None, days: int, now: datetime) -> Period:
    """The `days` local days ending on `end_date` (default: today in `timezone`)."""
    last = end_date or now.astimezone(timezone).date()
    first = last - timedelta(days=days - 1)
    start = datetime.combine(first, time(), timezone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), timezone).astimezone(UTC)
    return Period(first, last, start, min(end, max(now, start)), timezone)


def local_seconds(times: FloatArray, timezone: ZoneInfo) -> FloatArray:
    """Epoch seconds shifted to local wall-clock seconds (per reading only across a DST change)."""
    if times.size == 0:
        return times
    first = datetime.fromtimestamp(times[0], timezone).utcoffset()
    last = datetime.fromtimestamp(times[-1], timezone).utcoffset()
    if first == last and first is not None:
        return times + first.total_seconds()
    offsets = [datetime.fromtimestamp(t, timezone).utcoffset() or timedelta() for t in times]
    return times + np.array([o.total_seconds() for o in offsets], dtype=np.float64)


@dataclass(frozen=True)
class GlucoseSeries:
    """CGM readings of a period as arrays (times epoch seconds, values mg/dL, spans seconds)."""

    times: FloatArray
    values: FloatArray
    spans: FloatArray
    local: FloatArray  # local wall-clock seconds

    @property
    def minute_of_day(self) -> FloatArray:
        """Local minute of the day of each reading."""
        return np.mod(self.local, 86400.0) / 60.0

    def by_day(self) -> dict[date, Accumulator]:
        """Accumulated sums per local date."""
        day_numbers = np.floor_divide(self.local, 86400.0).astype(np.int64)
        result: dict[date, Accumulator] = {}
        for number in np.unique(day_numbers):
            mask = day_numbers == number
            day = EPOCH_DATE + timedelta(days=int(number))
            result[day] = accumulate(self.values[mask], self.spans[mask], day)
        return result


def glucose_series(columns: analytics_repository.Columns, period: Period) -> GlucoseSeries:
    """The readings of `columns` inside the period, weighted (see `app.analytics.cgm`); the
    columns may run past its end to weigh its last reading, or start before it."""
    times, values, _, _, intervals = columns
    # Rounded to the millisecond: SQLite's julianday arithmetic carries float noise.
    epoch: FloatArray = np.round(np.asarray(times, dtype=np.float64), 3).astype(np.float64)
    mg_dl = np.asarray(values, dtype=np.float64)
    spans = weights(epoch, np.asarray(intervals, dtype=np.float64))
    inside = (epoch >= period.start.timestamp()) & (epoch < period.end.timestamp())
    epoch, mg_dl, spans = epoch[inside], mg_dl[inside], spans[inside]
    return GlucoseSeries(epoch, mg_dl, spans, local_seconds(epoch, period.timezone))


async def load_glucose(
    session: AsyncSession, patient_id: uuid.UUID, period: Period, default_interval: int
) -> GlucoseSeries:
    """The patient's CGM readings in the period, weighted."""
    columns = await analytics_repository.columns(
        session,
        patient_id,
        "cgm",
        period.start,
        period.end + timedelta(seconds=MAX_INTERVAL_SECONDS),
        default_interval,
    )
    return glucose_series(columns, period)
