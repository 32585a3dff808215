"""What every export reader shares: the parsed file, its devices and rows, cells and times."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.reading.items import Rejection

SENTINELS = {"low": "low", "lo": "low", "high": "high", "hi": "high"}


@dataclass(frozen=True)
class ImportDevice:
    """A device named by the file, in the unit its values are written, with how often it
    records (from its model, or measured in the file) and its measuring range in mg/dL."""

    model: str
    serial: str
    unit: str
    sample_interval_seconds: int
    range_mg_dl: tuple[float, float]


@dataclass(frozen=True)
class ImportRow:
    """One reading-bearing line: its line number, device, and the item or why it is not one.

    The item is (kind, measured time, value, flag); a time read from a file without an offset
    carries the patient's time zone, one with an offset keeps it."""

    line: int
    device: ImportDevice
    build: tuple[str, datetime, float | None, str | None] | Rejection


@dataclass(frozen=True)
class ParsedFile:
    """What a file holds: its format and its reading rows."""

    format: str
    rows: list[ImportRow]


class UnrecognisedFile(ValueError):
    """Not an export this service reads."""


def value_of(cell: str | None) -> tuple[float | None, str | None] | Rejection:
    """A glucose cell: a number (decimal point or comma), or a LOW / HIGH marker."""
    text = (cell or "").strip()
    if text.lower() in SENTINELS:
        return None, SENTINELS[text.lower()]
    try:
        return float(text.replace(",", ".")), None
    except ValueError:
        return Rejection("malformed", "value")


def glucose_row(
    line: int, device: ImportDevice, kind: str, when: datetime | None, cell: str | None
) -> ImportRow:
    """The row of a glucose cell measured at `when` (None: the time could not be read)."""
    if when is None:
        return ImportRow(line, device, Rejection("malformed", "timestamp"))
    value = value_of(cell)
    if isinstance(value, Rejection):
        return ImportRow(line, device, value)
    return ImportRow(line, device, (kind, when, value[0], value[1]))


def local_time(text: str, fmt: str, timezone: ZoneInfo) -> datetime | None:
    """A wall-clock time without offset, read in the patient's time zone."""
    try:
        return datetime.strptime(text.strip(), fmt).replace(tzinfo=timezone)
    except ValueError:
        return None


def delimiter_of(header: str) -> str:
    """The field separator of a header line: comma, or semicolon / tab where a spreadsheet
    re-saved the file in a locale that uses them."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: counts[sep])


def records(lines: list[str], delimiter: str) -> csv.DictReader[str]:
    """The lines as CSV records keyed by the first line's names."""
    return csv.DictReader(lines, delimiter=delimiter)
