"""Dexcom Clarity CSV exports, in mg/dL and in mmol/L (the mmol/L account is the default in
China): UTF-8 with a BOM, every field quoted, CRLF; an untimed preamble (names, one `Device` row
and the alert settings per display device), then the timed rows. The unit is in the glucose
column's name; values below and above the sensor's range are the words `Low` / `High` in both
units. Every Dexcom sensor records every 5 minutes (40-400 mg/dL).

A G7 has a new transmitter id every sensor, so readings land on the display device (`Source
Device ID`, e.g. `iOS G7`), as the patient's own imported device: re-importing finds it again.
"""

from __future__ import annotations

import re
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

TIMESTAMP = "Timestamp (YYYY-MM-DDThh:mm:ss)"
_GLUCOSE = re.compile(r"^Glucose Value \((mg/dL|mmol/L)\)$")
DEXCOM_INTERVAL_SECONDS = 300
DEXCOM_RANGE_MG_DL = (40.0, 400.0)


def is_clarity(first_line: str) -> bool:
    """Whether a file's first line is a Clarity header."""
    return TIMESTAMP in first_line


def parse_clarity(lines: list[str], timezone: ZoneInfo) -> ParsedFile:
    """The reading rows of a Clarity export; UnrecognisedFile without a glucose column."""
    reader = records(lines, delimiter_of(lines[0]))
    columns = [c for c in reader.fieldnames or [] if _GLUCOSE.match(c.strip())]
    if len(columns) != 1:
        raise UnrecognisedFile()
    column = columns[0]
    unit = _GLUCOSE.match(column.strip()).group(1)  # type: ignore[union-attr]
    models: dict[str, str] = {}  # Source Device ID -> the display device's name
    devices: dict[str, ImportDevice] = {}
    rows: list[ImportRow] = []
    for line, record in enumerate(reader, start=2):
        event = (record.get("Event Type") or "").strip()
        source = (record.get("Source Device ID") or "").strip() or "Dexcom"
        stamp = (record.get(TIMESTAMP) or "").strip()
        if not stamp:
            if event == "Device":
                models[source] = (record.get("Device Info") or "").strip()
            continue  # the preamble: names, devices, alert settings
        if source not in devices:
            model = models.get(source) or f"Dexcom {source}"
            devices[source] = ImportDevice(
                f"{model} (Clarity)", source, unit, DEXCOM_INTERVAL_SECONDS, DEXCOM_RANGE_MG_DL
            )
        device = devices[source]
        if event != "EGV":
            rows.append(ImportRow(line, device, Rejection("not_a_reading", "Event Type")))
            continue
        when = local_time(stamp, "%Y-%m-%dT%H:%M:%S", timezone) or local_time(
            stamp, "%Y-%m-%d %H:%M:%S", timezone
        )
        rows.append(glucose_row(line, device, "cgm", when, record.get(column)))
    return ParsedFile(f"dexcom_clarity_{'mmol' if unit == 'mmol/L' else 'mgdl'}", rows)
