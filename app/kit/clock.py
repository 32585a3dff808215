"""The one place the service reads the time (UTC-aware), so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_shanghai(moment: datetime) -> datetime:
    """A UTC moment as people in the pilot city read it."""
    return moment.astimezone(SHANGHAI)
