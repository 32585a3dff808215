"""The consultation queue's order and its honest wait estimate (pure functions).

Order: urgency level, highest first; then waiting time, longest first (requested_at survives
hand-overs, so a handed-on patient keeps their place). The estimate uses the doctor's own
measured consultation lengths (median of recent ones) once there are enough of them, says when
it is only the configured assumption, and gives no number at all while the doctor is offline:
a made-up wait is worse than "unknown until the doctor is back at <time>".
"""

from __future__ import annotations

import statistics
import uuid
from dataclasses import dataclass
from datetime import datetime

# Measured consultation lengths needed before the estimate uses them.
MIN_SAMPLES = 5


def queue_key(
    urgency_level: int, requested_at: datetime, request_id: uuid.UUID
) -> tuple[int, datetime, str]:
    """Sort key of a waiting request: urgent first, then longest waiting."""
    return (-urgency_level, requested_at, str(request_id))


@dataclass(frozen=True)
class ServiceTime:
    """How long the doctor's consultations take, and whether that was measured."""

    minutes: float
    basis: str  # "measured" | "assumed"
    samples: int


def service_time(durations_minutes: list[float], default_minutes: float) -> ServiceTime:
    """The median of measured lengths when there are enough, else the configured default."""
    if len(durations_minutes) >= MIN_SAMPLES:
        return ServiceTime(statistics.median(durations_minutes), "measured", len(durations_minutes))
    return ServiceTime(default_minutes, "assumed", len(durations_minutes))


def estimated_wait_seconds(
    ahead: int,
    service: ServiceTime,
    presence: str,
    current_elapsed_minutes: float | None,
) -> int | None:
    """Seconds until the doctor is likely to reach this patient; None while they are offline.

    `ahead` counts the waiting patients before this one; `current_elapsed_minutes` is how long
    the doctor's ongoing consultation has run (None when there is none).
    """
    if presence == "offline":
        return None
    minutes = ahead * service.minutes
    if current_elapsed_minutes is not None:
        minutes += max(service.minutes - current_elapsed_minutes, 0.0)
    return round(minutes * 60)
