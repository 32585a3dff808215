"""Sibionics (硅基动感) GS1 exports from its app (SiSensing CGM): a workbook (the app names it
`.xls`, its bytes are an .xlsx) with one sheet `Sensor Glucose`, every cell a string, header
`Time` / `Sensor Reading(mg/dL)` (or mmol/L), rows oldest first, times `DD-MM-YYYY HH:MM GMT+8`
with the phone's offset. The GS1 records every 5 minutes and reads 40-450 mg/dL. The file names
no serial: the readings land on the patient's own "SiSensing app" device.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl

from app.reading.imports.common import (
    ImportDevice,
    ImportRow,
    ParsedFile,
    UnrecognisedFile,
    glucose_row,
)

_READING = re.compile(r"^Sensor Reading\s*\((mg/dL|mmol/L)\)$")
_TIME = re.compile(
    r"^(\d{1,2})-(\d{1,2})-(\d{4}) (\d{1,2}):(\d{2})(?: GMT([+-])(\d{1,2})(?::?(\d{2}))?)?$"
)
SIBIONICS_INTERVAL_SECONDS = 300
SIBIONICS_RANGE_MG_DL = (40.0, 450.0)


def is_workbook(body: bytes) -> bool:
    """Whether the bytes are a zip container (an .xlsx workbook)."""
    return body[:4] == b"PK\x03\x04"


def _time(text: str, zone: ZoneInfo) -> datetime | None:
    match = _TIME.match(text.strip())
    if match is None:
        return None
    day, month, year, hour, minute, sign, off_h, off_m = match.groups()
    if sign is None:
        tz: timezone | ZoneInfo = zone
    else:
        offset = timedelta(hours=int(off_h), minutes=int(off_m or 0))
        tz = timezone(offset if sign == "+" else -offset)
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), tzinfo=tz)
    except ValueError:
        return None


def parse_sibionics(body: bytes, zone: ZoneInfo) -> ParsedFile:
    """The reading rows of a SiSensing app export; UnrecognisedFile for any other workbook."""
    try:
        with warnings.catch_warnings():
            # The app's workbook (Apache POI) has no default style; openpyxl says so.
            warnings.simplefilter("ignore", UserWarning)
            book = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise UnrecognisedFile() from None
    try:
        sheet = book.worksheets[0]
        cells = sheet.iter_rows(values_only=True)
        header = [str(c or "").strip() for c in next(cells, ())]
        match = _READING.match(header[1]) if len(header) > 1 else None
        if not header or header[0] != "Time" or match is None:
            raise UnrecognisedFile()
        device = ImportDevice(
            "Sibionics GS1 (SiSensing app)",
            "SiSensing app",
            match.group(1),
            SIBIONICS_INTERVAL_SECONDS,
            SIBIONICS_RANGE_MG_DL,
        )
        rows: list[ImportRow] = []
        for line, row in enumerate(cells, start=2):
            stamp = str(row[0] or "") if row else ""
            if not stamp.strip():
                continue
            cell = row[1] if len(row) > 1 else None
            rows.append(
                glucose_row(
                    line, device, "cgm", _time(stamp, zone), None if cell is None else str(cell)
                )
            )
    finally:
        book.close()
    return ParsedFile("sibionics_app", rows)
