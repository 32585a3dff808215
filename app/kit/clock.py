"""The one place the service reads the time (UTC-aware), so it can be moved.

Code calls `utcnow()`. `frozen_at(moment)` / `shifted_by(delta)` move it for every caller,
however it imported `utcnow`: tests use them instead of sleeping, the demo seed freezes it to
date its history (`app/demo/insurance.py`), and a dev/test server started with
CLOCK_OFFSET_SECONDS runs shifted (`app/main.py`; prod refuses an offset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _system_now() -> datetime:
    return datetime.now(UTC)


_source: Callable[[], datetime] = _system_now


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return _source()


def to_shanghai(moment: datetime) -> datetime:
    """A UTC moment as people in the pilot city read it."""
    return moment.astimezone(SHANGHAI)


def city_date(moment: datetime | None = None) -> date:
    """The calendar day in the pilot city (Asia/Shanghai) at `moment` (now by default)."""
    return to_shanghai(moment or utcnow()).date()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    """Within the block, the clock stands still at `moment` (tests, the demo seed)."""
    global _source
    if moment.tzinfo is None:
        raise ValueError("frozen_at needs an aware datetime")
    previous, _source = _source, lambda: moment
    try:
        yield
    finally:
        _source = previous


@contextmanager
def shifted_by(delta: timedelta) -> Iterator[None]:
    """Within the block, the clock runs `delta` ahead of the real one (tests, and a dev/test
    server's CLOCK_OFFSET_SECONDS)."""
    global _source
    previous = _source
    _source = lambda: previous() + delta  # noqa: E731
    try:
        yield
    finally:
        _source = previous
