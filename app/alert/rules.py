"""Alert rules as pure functions over readings: when an episode starts and when it is over."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.config import Settings
from app.reading.units import above, below

# Urgency level of each rule: 3 urgent, 2 high, 1 watch.
LEVELS = {
    "urgent_low": 3,
    "bp_grade3": 3,
    "sustained_high": 2,
    "irregular_rhythm": 2,
    "signal_loss": 1,
}
GLUCOSE_KINDS = ("cgm", "scan", "bg")
GLUCOSE_RULES = frozenset({"urgent_low", "sustained_high", "signal_loss"})
# Rows of ECG strips given to the rules: `possible_af` (irregular RR or the device said AF) and
# `regular` (judged regular, by enough RR intervals and the device), besides the reading keys.
ECG_STRIP_KIND = "ecg_strip"


@dataclass(frozen=True)
class Episodic:
    """A rule whose episodes start and end on single readings of some kinds."""

    rule: str
    kinds: tuple[str, ...]
    starts: Callable[[dict[str, Any]], bool]
    ends: Callable[[dict[str, Any]], bool]


def episodic_rules(settings: Settings) -> tuple[Episodic, ...]:
    """The single-reading rules under these settings."""

    def grade3(row: dict[str, Any]) -> bool:
        return bool(
            row["value"] >= settings.alert_bp_systolic
            or (row["value2"] or 0) >= settings.alert_bp_diastolic
        )

    return (
        Episodic(
            "urgent_low",
            GLUCOSE_KINDS,
            starts=lambda row: below(row["value"], settings.alert_urgent_low_mg_dl),
            # Over once glucose is back in range, not merely above the urgent threshold: a
            # value bouncing around 3.0 mmol/L is one episode.
            ends=lambda row: not below(row["value"], settings.alert_low_recovered_mg_dl),
        ),
        Episodic("bp_grade3", ("bp",), starts=grade3, ends=lambda row: not grade3(row)),
        Episodic(
            "sustained_high",
            ("cgm",),
            starts=lambda row: False,  # needs history: see sustained_high_since
            ends=lambda row: not above(row["value"], settings.alert_sustained_high_mg_dl),
        ),
        Episodic("signal_loss", ("cgm",), starts=lambda row: False, ends=lambda row: True),
        # Over on a later strip judged regular; an unreadable strip neither starts nor ends it.
        Episodic(
            "irregular_rhythm",
            (ECG_STRIP_KIND,),
            starts=lambda row: bool(row["possible_af"]),
            ends=lambda row: bool(row["regular"]),
        ),
    )


def sustained_high_since(
    points: Sequence[tuple[datetime, float, int | None]], settings: Settings
) -> datetime | None:
    """Start of the high run ending at the last point, if it lasts the configured duration.

    `points` are (measured_at, mg/dL, sample interval) oldest first; the run breaks at a value
    that is not high or at a gap longer than three sample intervals (lost signal is not "high").
    """
    if not points or not above(points[-1][1], settings.alert_sustained_high_mg_dl):
        return None
    start = points[-1][0]
    for (earlier, value, interval), (later, _, _) in zip(
        reversed(points[:-1]), reversed(points[1:]), strict=True
    ):
        gap_limit = timedelta(seconds=3 * (interval or settings.cgm_default_interval_seconds))
        if not above(value, settings.alert_sustained_high_mg_dl) or later - earlier > gap_limit:
            break
        start = earlier
    duration = timedelta(minutes=settings.alert_sustained_high_minutes)
    return start if points[-1][0] - start >= duration else None
