"""Two weeks of realistic CGM and blood-pressure readings for a demo patient (deterministic).

Each local day's series comes from a generator seeded by the date, so loading again yields the
same values at the same times: stored readings come back as duplicates and only the time
elapsed since the last load is added.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.device import service as device_service
from app.kit.clock import utcnow
from app.models import Patient
from app.reading import repository as reading_repository
from app.reading.units import to_mg_dl
from app.reading.validation import Row, reading_row

DAYS = 14
CGM_INTERVAL = timedelta(minutes=5)
# Meals (local hour, rise in mmol/L): the post-meal peaks make the AGP worth looking at.
MEALS = ((7.5, 4.5), (12.2, 5.5), (18.6, 6.0))


@dataclass(frozen=True)
class DemoWearables:
    """What was loaded: readings in the demo window and how many were new."""

    readings: int
    created: int


def _glucose_mmol(day: date, minutes: int, noise: float) -> float:
    hour = minutes / 60.0
    level = 7.0 + 0.8 * math.exp(-(((hour - 5.5) / 1.5) ** 2))  # dawn phenomenon
    for meal_hour, rise in MEALS:
        since = hour - meal_hour
        if since > 0:
            level += rise * (since / 0.9) * math.exp(1 - since / 0.9)  # peak ~55 min after
    if day.toordinal() % 5 == 0:  # a night low now and then
        level -= 3.8 * math.exp(-(((hour - 3.0) / 0.7) ** 2))
    return max(2.3, min(21.5, level + noise))


def _cgm_day(day: date, zone: ZoneInfo) -> list[tuple[datetime, float]]:
    rng = random.Random(day.toordinal())  # noqa: S311 - demo values, not secrets
    noise, points = 0.0, []
    start = datetime.combine(day, time(), zone)
    for slot in range(288):
        noise = 0.85 * noise + rng.gauss(0, 0.35)
        at = (start + slot * CGM_INTERVAL).astimezone(UTC)
        points.append((at, round(_glucose_mmol(day, slot * 5, noise), 1)))
    return points


def _bp_day(day: date, zone: ZoneInfo, ambulatory: bool) -> list[tuple[datetime, int, int, int]]:
    rng = random.Random(day.toordinal() * 7 + 1)  # noqa: S311 - demo values
    if ambulatory:  # a 24-hour recording: every 30 min by day, hourly at night
        hours = [h / 2 for h in range(12, 44)] + [22.0, 23.0] + [float(h) for h in range(6)]
    else:  # home readings, morning and evening
        hours = [7.0, 19.5]
    points = []
    for hour in hours:
        night = hour >= 22 or hour < 6
        systolic = (134 if night else 147) + rng.gauss(0, 6)
        diastolic = (81 if night else 91) + rng.gauss(0, 4)
        moment = datetime.combine(day, time(), zone) + timedelta(hours=hour)
        pulse = 72 + rng.gauss(0, 5)
        points.append((moment.astimezone(UTC), round(systolic), round(diastolic), round(pulse)))
    return points


@dataclass(frozen=True)
class DemoSeries:
    """The demo wearer's readings: CGM (time, mmol/L) and BP (time, sys, dia, pulse)."""

    cgm: list[tuple[datetime, float]]
    bp: list[tuple[datetime, int, int, int]]


def demo_series(now: datetime, zone: ZoneInfo) -> DemoSeries:
    """The demo CGM and blood-pressure series of the 14 days up to `now` (deterministic per day;
    one day of them an ambulatory BP recording). The demo phone uploads the same series."""
    start, today = now - timedelta(days=DAYS), now.astimezone(zone).date()
    days = [(today - timedelta(days=offset), offset) for offset in range(DAYS, -1, -1)]
    return DemoSeries(
        cgm=[p for day, _ in days for p in _cgm_day(day, zone) if start <= p[0] <= now],
        bp=[
            p
            for day, offset in days
            for p in _bp_day(day, zone, ambulatory=offset == 2)
            if start <= p[0] <= now
        ],
    )


def _row(patient: Patient, device_id: uuid.UUID, kind: str, now: datetime, **fields: Any) -> Row:
    return reading_row(
        device_id=device_id,
        kind=kind,
        patient_id=patient.id,
        utc_offset_minutes=480,
        backfilled=True,
        source="app",
        received_at=now,
        **fields,
    )


async def load_demo_wearables(session: AsyncSession, patient: Patient) -> DemoWearables:
    """Bind the demo CGM and BP monitor and top their last 14 days of readings up to now."""
    zone = ZoneInfo(patient.timezone)
    now = utcnow()
    settings = get_settings()
    cgm, _ = await device_service.ensure_device(
        session, settings, patient.id, kind="cgm", model="Dexcom G7", serial="DEMO-G7-0001",
        unit="mmol/L", source="app", sample_interval_seconds=300,
    )  # fmt: skip
    bp, _ = await device_service.ensure_device(
        session, settings, patient.id, kind="bp", model="Omron J760", serial="DEMO-BP-0001",
        unit="mmHg", source="app", sample_interval_seconds=None,
    )  # fmt: skip
    series = demo_series(now, zone)
    rows: list[dict[str, Any]] = [
        _row(
            patient,
            cgm.id,
            "cgm",
            now,
            measured_at=at,
            value=to_mg_dl(mmol, "mmol/L"),
            original_value=mmol,
            original_unit="mmol/L",
            sample_interval_seconds=300,
        )
        for at, mmol in series.cgm
    ]
    rows += [
        _row(
            patient,
            bp.id,
            "bp",
            now,
            measured_at=at,
            value=systolic,
            value2=diastolic,
            value3=pulse,
            label="sitting",
        )
        for at, systolic, diastolic, pulse in series.bp
    ]
    already = await reading_repository.store(session, rows, zone)
    return DemoWearables(readings=len(rows), created=len(rows) - len(already))
