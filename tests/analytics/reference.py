"""A second, deliberately different implementation of the CGM metrics, for checking the first.

Time in bands is computed by sweeping a one-second (or one-minute) timeline in which each
reading holds until the next reading or until its sample interval runs out; percentiles by
explicit rank interpolation; SD with the textbook two-pass formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BANDS = ("very_low", "low", "in_range", "high", "very_high")


def band_of(mg_dl: float) -> str:
    """The consensus band of a value, by its nearest whole mg/dL (halves round up)."""
    whole = math.floor(mg_dl + 0.5)
    if whole < 54:
        return "very_low"
    if whole <= 69:
        return "low"
    if whole <= 180:
        return "in_range"
    if whole <= 250:
        return "high"
    return "very_high"


def time_in_bands(
    times: Sequence[int], values: Sequence[float], intervals: Sequence[int], step: int = 60
) -> tuple[dict[str, float], int]:
    """Percent of covered time per band, and covered seconds, by sweeping `step`-second ticks
    (times and intervals must be multiples of `step`)."""
    counts = dict.fromkeys(BANDS, 0)
    covered = 0
    end = max(t + i for t, i in zip(times, intervals, strict=True))
    reading = -1
    for tick in range(min(times), end, step):
        while reading + 1 < len(times) and times[reading + 1] <= tick:
            reading += 1
        if reading >= 0 and tick < times[reading] + intervals[reading]:
            counts[band_of(values[reading])] += step
            covered += step
    return {band: 100.0 * c / covered for band, c in counts.items()}, covered


def sample_sd(values: Sequence[float]) -> float:
    """Sample standard deviation, two-pass."""
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile with linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    rank = p / 100 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def agp_window(minutes: Sequence[float], values: Sequence[float], center: float) -> list[float]:
    """Values whose minute of day is within [center - 30, center + 30) around the clock."""
    picked = []
    for minute, value in zip(minutes, values, strict=True):
        offset = (minute - center + 720) % 1440 - 720
        if -30 <= offset < 30:
            picked.append(value)
    return picked
