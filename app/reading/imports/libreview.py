"""LibreView CSV exports (FreeStyle Libre 1, 2 and 3, the LibreLink and Libre apps): a title
line (`Glucose Data,Generated on,...`), then a header whose glucose columns carry the unit
(`Historic Glucose mg/dL`, `Scan Glucose mmol/L`, `Strip Glucose ...`; `Ketone mmol/L` is
ketones in every account, so the unit is read from the glucose columns only). Record type 0 is
the sensor's history, 1 a scan, 2 a strip measured with the reader; the rest are notes, food,
insulin and events. Times are wall-clock without offset in the account's format (12-hour
month-first in the US, 24-hour day-first elsewhere, and variants), read once per file.

How often the history is recorded depends on the sensor: Libre 3 every 5 minutes, Libre 1 and 2
every 15. App exports (LibreLink, the Libre app) do not name the sensor, so there it is measured
from the file's own history.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from app.reading.imports.common import (
    ImportDevice,
    ImportRow,
    ParsedFile,
    UnrecognisedFile,
    delimiter_of,
    glucose_row,
    local_time,
    records,
)
from app.reading.items import Rejection

_GLUCOSE = re.compile(r"^(Historic|Scan|Strip) Glucose\s*\(?(mg/dL|mmol/L)\)?$")
_KINDS = {"0": ("cgm", "Historic"), "1": ("scan", "Scan"), "2": ("bg", "Strip")}
# Libre sensors measure 40-500 mg/dL (2.2-27.8 mmol/L); US readers show 40-400.
LIBRE_RANGE_MG_DL = (40.0, 500.0)
FIVE_MINUTES, FIFTEEN_MINUTES = 300, 900


def is_libreview(lines: list[str]) -> bool:
    """Whether the file has LibreView's header on its second line."""
    return len(lines) > 1 and "Device Timestamp" in lines[1] and "Serial Number" in lines[1]


def interval_of_model(model: str) -> int | None:
    """How often a Libre sensor's history is recorded, from the device name; None for app
    exports, which do not say which sensor they read."""
    name = " ".join(model.lower().split())
    if "libre 3" in name:
        return FIVE_MINUTES
    if name in ("freestyle libre", "freestyle libre 2", "freestyle libre 14 day") or (
        "libre pro" in name
    ):
        return FIFTEEN_MINUTES
    return None


def measured_interval(times: Iterable[datetime]) -> int:
    """5 or 15 minutes, whichever the typical gap between history records is nearer."""
    ordered = sorted(times)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]
    gaps = [g for g in gaps if 0 < g <= 2 * FIFTEEN_MINUTES]
    if not gaps:
        return FIFTEEN_MINUTES
    return FIVE_MINUTES if statistics.median(gaps) < 600 else FIFTEEN_MINUTES


def time_format(stamps: list[str]) -> str:
    """The strptime format of a file's `Device Timestamp`s, decided on all of them (a day-first
    and a month-first date differ only when some day is after the 12th)."""
    sample = next((s.strip() for s in stamps if s.strip()), "")
    match = re.match(r"^(\d{1,4})([-/.])(\d{1,2})\2(\d{1,4}) ", sample)
    if match is None:
        raise UnrecognisedFile()
    sep = match.group(2)
    twelve_hour = bool(re.search(r"[AaPp][Mm]$", sample))
    clock = "%I:%M %p" if twelve_hour else "%H:%M"
    if len(match.group(1)) == 4:
        return f"%Y{sep}%m{sep}%d {clock}"
    firsts, seconds = set(), set()
    for stamp in stamps:
        parts = re.match(r"^\s*(\d{1,2})[-/.](\d{1,2})", stamp)
        if parts:
            firsts.add(int(parts.group(1)))
            seconds.add(int(parts.group(2)))
    if any(n > 12 for n in firsts):
        day_first = True
    elif any(n > 12 for n in seconds):
        day_first = False
    else:
        day_first = not twelve_hour  # US accounts write 12-hour, month-first dates
    date = f"%d{sep}%m{sep}%Y" if day_first else f"%m{sep}%d{sep}%Y"
    return f"{date} {clock}"


def parse_libreview(lines: list[str], timezone: ZoneInfo) -> ParsedFile:
    """The reading rows of a LibreView export; UnrecognisedFile without glucose columns."""
    reader = records(lines[1:], delimiter_of(lines[1]))
    columns: dict[str, str] = {}
    units: set[str] = set()
    for name in reader.fieldnames or []:
        match = _GLUCOSE.match(name.strip())
        if match:
            columns[match.group(1)] = name
            units.add(match.group(2))
    if "Historic" not in columns or len(units) != 1:
        raise UnrecognisedFile()
    unit = units.pop()
    table = list(reader)
    fmt = time_format([r.get("Device Timestamp") or "" for r in table])
    times = [local_time(r.get("Device Timestamp") or "", fmt, timezone) for r in table]
    history: dict[tuple[str, str], list[datetime]] = {}
    for record, when in zip(table, times, strict=True):
        if (record.get("Record Type") or "").strip() == "0" and when is not None:
            key = (
                (record.get("Device") or "").strip(),
                (record.get("Serial Number") or "").strip(),
            )
            history.setdefault(key, []).append(when)
    devices: dict[tuple[str, str], ImportDevice] = {}
    rows: list[ImportRow] = []
    for line, (record, when) in enumerate(zip(table, times, strict=True), start=3):
        key = ((record.get("Device") or "").strip(), (record.get("Serial Number") or "").strip())
        if key not in devices:
            model = key[0] or "FreeStyle Libre"
            interval = interval_of_model(model) or measured_interval(history.get(key, ()))
            devices[key] = ImportDevice(
                f"{model} (LibreView)", key[1] or model, unit, interval, LIBRE_RANGE_MG_DL
            )
        device = devices[key]
        kind_column = _KINDS.get((record.get("Record Type") or "").strip())
        if kind_column is None or kind_column[1] not in columns:
            rows.append(ImportRow(line, device, Rejection("not_a_reading", "Record Type")))
            continue
        kind, column = kind_column
        rows.append(glucose_row(line, device, kind, when, record.get(columns[column])))
    return ParsedFile(f"libreview_{'mmol' if unit == 'mmol/L' else 'mgdl'}", rows)
