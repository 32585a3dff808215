"""Dates and times taken from clients (query parameters and bodies): timezone-aware, and within
years the service can compute with.

A client may send any ISO date or time: year 1 with a +14:00 offset has no UTC equivalent, and
9999-12-31 has no next day, so either overflowed deep inside a request (a 500). These types
refuse them, and naive times (times are UTC-aware everywhere), as a 422 at the boundary.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

FIRST_YEAR = 1900
LAST_YEAR = 2999
_EARLIEST = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
_LATEST = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)


def _instant_in_range(value: datetime) -> datetime:
    if not _EARLIEST <= value < _LATEST:
        raise ValueError(f"must fall in the years {FIRST_YEAR}-{LAST_YEAR}")
    return value


def _date_in_range(value: date) -> date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must fall in the years {FIRST_YEAR}-{LAST_YEAR}")
    return value


# An instant with its UTC offset, in the years 1900-2999.
Instant = Annotated[AwareDatetime, AfterValidator(_instant_in_range)]
# A calendar date in the years 1900-2999.
CalendarDate = Annotated[date, AfterValidator(_date_in_range)]
