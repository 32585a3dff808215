"""Blood-pressure summary: 24 h / day / night means, night dipping, load, Chinese grade, validity.

Thresholds come from settings (they differ between guidelines). Day is [day_start_hour,
night_start_hour) local time, night the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.analytics.cgm import FloatArray
from app.config import Settings

# Chinese guideline grades, checked from the highest: (grade, systolic >=, diastolic >=). The
# higher category of systolic and diastolic wins.
GRADES = (
    ("grade3", 180.0, 110.0),
    ("grade2", 160.0, 100.0),
    ("grade1", 140.0, 90.0),
    ("high_normal", 120.0, 80.0),
)


def chinese_grade(systolic: float, diastolic: float) -> str:
    """normal, high_normal, grade1, grade2 or grade3 (the higher category wins)."""
    for grade, sys_at, dia_at in GRADES:
        if systolic >= sys_at or diastolic >= dia_at:
            return grade
    return "normal"


def dipping_pattern(dipping_percent: float) -> str:
    """extreme_dipper (>20%), dipper (10-20%), non_dipper (0-10%) or reverse (<0%)."""
    if dipping_percent < 0:
        return "reverse"
    if dipping_percent < 10:
        return "non_dipper"
    if dipping_percent <= 20:
        return "dipper"
    return "extreme_dipper"


@dataclass(frozen=True)
class Means:
    """Readings count and mean systolic / diastolic / pulse of a part of the day."""

    readings: int
    systolic: float | None
    diastolic: float | None
    pulse: float | None


@dataclass(frozen=True)
class BpMetrics:
    """What the BP summary reports."""

    all_day: Means
    day: Means
    night: Means
    dipping_percent: float | None
    pattern: str | None
    systolic_load_percent: float | None
    diastolic_load_percent: float | None
    grade: str | None
    above_24h_threshold: bool | None
    ambulatory_valid: bool


def _means(systolic: FloatArray, diastolic: FloatArray, pulse: FloatArray) -> Means:
    if systolic.size == 0:
        return Means(0, None, None, None)
    known_pulse = pulse[~np.isnan(pulse)]
    return Means(
        readings=int(systolic.size),
        systolic=float(systolic.mean()),
        diastolic=float(diastolic.mean()),
        pulse=float(known_pulse.mean()) if known_pulse.size else None,
    )


def summarise(
    local_hours: FloatArray,
    systolic: FloatArray,
    diastolic: FloatArray,
    pulse: FloatArray,
    settings: Settings,
) -> BpMetrics:
    """The summary of these readings (local hour of day as a float, values mmHg)."""
    is_day = (local_hours >= settings.bp_day_start_hour) & (
        local_hours < settings.bp_night_start_hour
    )
    all_day = _means(systolic, diastolic, pulse)
    day = _means(systolic[is_day], diastolic[is_day], pulse[is_day])
    night = _means(systolic[~is_day], diastolic[~is_day], pulse[~is_day])
    dipping = None
    if day.systolic and night.systolic is not None:
        dipping = 100.0 * (day.systolic - night.systolic) / day.systolic
    # Load: share of readings at or above the threshold of their part of the day.
    sys_limit = np.where(is_day, settings.bp_day_systolic, settings.bp_night_systolic)
    dia_limit = np.where(is_day, settings.bp_day_diastolic, settings.bp_night_diastolic)
    count = systolic.size
    return BpMetrics(
        all_day=all_day,
        day=day,
        night=night,
        dipping_percent=dipping,
        pattern=dipping_pattern(dipping) if dipping is not None else None,
        systolic_load_percent=float(100.0 * (systolic >= sys_limit).mean()) if count else None,
        diastolic_load_percent=float(100.0 * (diastolic >= dia_limit).mean()) if count else None,
        grade=chinese_grade(all_day.systolic, all_day.diastolic)
        if all_day.systolic is not None and all_day.diastolic is not None
        else None,
        above_24h_threshold=(
            all_day.systolic >= settings.bp_24h_systolic
            or all_day.diastolic >= settings.bp_24h_diastolic
        )
        if all_day.systolic is not None and all_day.diastolic is not None
        else None,
        ambulatory_valid=day.readings >= settings.bp_abpm_min_day_readings
        and night.readings >= settings.bp_abpm_min_night_readings,
    )
