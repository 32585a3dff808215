"""CGM metrics (International Consensus on Time in Range, 2019) over time-weighted readings.

Each reading stands for the time until the next one, capped at its device's sample interval:
1-, 5- and 15-minute devices then give the same time in range, and a gap in the data counts as
no data rather than as more of the reading before it. Mean and SD are over readings (SD n-1).
Band membership follows the whole-mg/dL convention of `app.reading.units`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import numpy.typing as npt

from app.reading.units import MG_DL_PER_MMOL_L

FloatArray = npt.NDArray[np.float64]
BANDS = ("very_low", "low", "in_range", "high", "very_high")
# Upper edges (exclusive) of the bands in mg/dL: a value rounding to 54 is "low", to 70 "in
# range", to 181 "high", to 251 "very high".
BAND_EDGES = np.array([53.5, 69.5, 180.5, 250.5])
EPISODE_MINUTES = 15


def weights(times: FloatArray, intervals: FloatArray) -> FloatArray:
    """Seconds each reading stands for: up to the next reading, at most its sample interval."""
    if times.size == 0:
        return np.zeros(0)
    gaps = np.empty_like(times)
    gaps[:-1] = np.diff(times)
    gaps[-1] = np.inf
    return np.minimum(gaps, intervals)


def band_index(values: FloatArray) -> npt.NDArray[np.intp]:
    """0..4: very low, low, in range, high, very high."""
    return np.searchsorted(BAND_EDGES, values, side="right")


@dataclass
class Accumulator:
    """Sums that add up across days: what a day rollup stores and a period combines."""

    readings: int = 0
    value_sum: float = 0.0
    # Sum of squared deviations from the mean: merged with Chan's formula, so SD stays exact
    # where sums of squares would cancel.
    squared_deviations: float = 0.0
    covered_seconds: float = 0.0
    band_seconds: list[float] = field(default_factory=lambda: [0.0] * len(BANDS))
    days: set[date] = field(default_factory=set)

    def add(self, other: Accumulator) -> None:
        """Add another accumulator's sums into this one."""
        if other.readings:
            if self.readings:
                delta = other.value_sum / other.readings - self.value_sum / self.readings
                weight = self.readings * other.readings / (self.readings + other.readings)
                self.squared_deviations += other.squared_deviations + delta * delta * weight
            else:
                self.squared_deviations = other.squared_deviations
        self.readings += other.readings
        self.value_sum += other.value_sum
        self.covered_seconds += other.covered_seconds
        self.band_seconds = [
            a + b for a, b in zip(self.band_seconds, other.band_seconds, strict=True)
        ]
        self.days |= other.days


def accumulate(values: FloatArray, spans: FloatArray, day: date | None = None) -> Accumulator:
    """The sums of these readings (values mg/dL, spans = their weights in seconds)."""
    bands = np.bincount(band_index(values), weights=spans, minlength=len(BANDS))
    return Accumulator(
        readings=int(values.size),
        value_sum=float(values.sum()),
        squared_deviations=float(np.square(values - values.mean()).sum()) if values.size else 0.0,
        covered_seconds=float(spans.sum()),
        band_seconds=[float(b) for b in bands],
        days={day} if day is not None and values.size else set(),
    )


@dataclass(frozen=True)
class CgmMetrics:
    """The consensus metrics of a period."""

    readings: int
    days_with_data: int
    active_percent: float
    sufficient: bool
    mean_mg_dl: float | None
    mean_mmol_l: float | None
    sd_mg_dl: float | None
    cv_percent: float | None
    gmi_percent: float | None
    band_percent: dict[str, float]


def metrics(
    total: Accumulator, period_seconds: float, period_days: int, days_with_data: int | None = None
) -> CgmMetrics:
    """Metrics of a period from its accumulated sums (days with data: its set of days unless
    given)."""
    n = total.readings
    active = min(100.0, 100.0 * total.covered_seconds / period_seconds) if period_seconds else 0.0
    covered = total.covered_seconds
    bands = {
        name: (100.0 * seconds / covered if covered else 0.0)
        for name, seconds in zip(BANDS, total.band_seconds, strict=True)
    }
    mean = total.value_sum / n if n else None
    sd = None
    if n >= 2 and mean is not None:
        sd = float(np.sqrt(max(total.squared_deviations, 0.0) / (n - 1)))
    return CgmMetrics(
        readings=n,
        days_with_data=len(total.days) if days_with_data is None else days_with_data,
        active_percent=active,
        sufficient=period_days >= 14 and round(active, 6) >= 70.0,
        mean_mg_dl=mean,
        mean_mmol_l=mean / MG_DL_PER_MMOL_L if mean is not None else None,
        sd_mg_dl=sd,
        cv_percent=100.0 * sd / mean if sd is not None and mean else None,
        gmi_percent=3.31 + 0.02392 * mean if mean is not None else None,
        band_percent=bands,
    )


@dataclass(frozen=True)
class Episode:
    """A hypo- or hyperglycaemia episode: at least 15 minutes beyond a threshold."""

    kind: str  # hypo_level1 (<70), hypo_level2 (<54), hyper_level1 (>180), hyper_level2 (>250)
    start: float  # epoch seconds
    end: float
    minutes: float
    extreme_mg_dl: float


Beyond = Callable[[FloatArray], npt.NDArray[np.bool_]]
EPISODE_RULES: tuple[tuple[str, Beyond, np.ufunc], ...] = (
    ("hypo_level1", lambda v: v < 69.5, np.minimum),
    ("hypo_level2", lambda v: v < 53.5, np.minimum),
    ("hyper_level1", lambda v: v >= 180.5, np.maximum),
    ("hyper_level2", lambda v: v >= 250.5, np.maximum),
)


def episodes(times: FloatArray, values: FloatArray, spans: FloatArray) -> list[Episode]:
    """Episodes of every kind: time beyond the threshold adding up to >= 15 minutes; an episode
    ends only after >= 15 minutes not beyond it (shorter returns merge into one episode)."""
    found: list[Episode] = []
    limit = EPISODE_MINUTES * 60.0
    for kind, beyond, extreme in EPISODE_RULES:
        members = np.flatnonzero(beyond(values))
        if members.size == 0:
            continue
        # A run continues while the next reading beyond the threshold starts less than 15
        # minutes after the previous one stopped covering (readings back on the other side and
        # data gaps both count as time not beyond it).
        ends = times[members] + spans[members]
        breaks = np.flatnonzero(times[members[1:]] - ends[:-1] >= limit) + 1
        starts = np.concatenate(([0], breaks))
        minutes = np.add.reduceat(spans[members], starts) / 60.0
        extremes = extreme.reduceat(values[members], starts)
        lasts = np.concatenate((breaks - 1, [members.size - 1]))
        for first, last, length, most in zip(starts, lasts, minutes, extremes, strict=True):
            if length >= EPISODE_MINUTES:
                found.append(
                    Episode(
                        kind=kind,
                        start=float(times[members[first]]),
                        end=float(ends[last]),
                        minutes=float(length),
                        extreme_mg_dl=float(most),
                    )
                )
    return found


PERCENTILES = (5, 25, 50, 75, 95)
AGP_STEP_MINUTES = 15
AGP_WINDOW_MINUTES = 30


def agp(minute_of_day: FloatArray, values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """AGP percentiles (5/25/50/75/95) every 15 minutes of the day, each over the readings
    within +-30 minutes of it (wrapping at midnight): (bin minutes, percentiles[bins, 5])."""
    centers = np.arange(0, 1440, AGP_STEP_MINUTES, dtype=np.float64)
    result = np.full((centers.size, len(PERCENTILES)), np.nan)
    if values.size == 0:
        return centers, result
    order = np.argsort(minute_of_day, kind="stable")
    minutes, sorted_values = minute_of_day[order], values[order]
    quantiles = np.array(PERCENTILES) / 100.0
    for i, center in enumerate(centers):
        low, high = center - AGP_WINDOW_MINUTES, center + AGP_WINDOW_MINUTES
        pieces = [_slice(minutes, sorted_values, max(low, 0.0), min(high, 1440.0))]
        if low < 0:
            pieces.append(_slice(minutes, sorted_values, low + 1440.0, 1440.0))
        if high > 1440:
            pieces.append(_slice(minutes, sorted_values, 0.0, high - 1440.0))
        window = np.sort(np.concatenate(pieces))
        if window.size:
            # Linear interpolation between closest ranks (numpy's default method), inlined:
            # np.percentile's own overhead is most of the cost for windows this small.
            rank = quantiles * (window.size - 1)
            below = np.floor(rank).astype(np.intp)
            above = np.minimum(below + 1, window.size - 1)
            result[i] = window[below] + (window[above] - window[below]) * (rank - below)
    return centers, result


def _slice(minutes: FloatArray, values: FloatArray, low: float, high: float) -> FloatArray:
    start, stop = np.searchsorted(minutes, [low, high], side="left")
    return values[start:stop]
