"""Wearable export files read into upload items: Dexcom Clarity (mg/dL and mmol/L), LibreView
(Libre 1, 2 and 3, LibreLink and Libre apps; every unit and date format) and Sibionics' app.

Each file row becomes an item or a rejection, numbered by its file line (for a workbook, its
row). Times written without an offset are read in the patient's time zone.
"""

from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from app.reading.imports.clarity import is_clarity, parse_clarity
from app.reading.imports.common import ImportDevice, ImportRow, ParsedFile, UnrecognisedFile
from app.reading.imports.libreview import is_libreview, parse_libreview
from app.reading.imports.sibionics import is_workbook, parse_sibionics
from app.reading.items import GlucoseItem, ParsedItem, Rejection

__all__ = [
    "ImportDevice",
    "ImportRow",
    "ParsedFile",
    "UnrecognisedFile",
    "parse_export",
    "read_text",
    "to_items",
]


def read_text(body: bytes) -> str:
    """The file's text (UTF-8 with or without BOM; older LibreView EU files may be Latin-1)."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("latin-1")


def parse_export(body: bytes, timezone: ZoneInfo) -> ParsedFile:
    """Read an export file as uploaded; UnrecognisedFile when it is none of those above."""
    if is_workbook(body):
        return parse_sibionics(body, timezone)
    lines = read_text(body).splitlines()
    if lines and is_clarity(lines[0]):
        return parse_clarity(lines, timezone)
    if is_libreview(lines):
        return parse_libreview(lines, timezone)
    raise UnrecognisedFile()


def to_items(
    parsed: ParsedFile, device_ids: dict[ImportDevice, uuid.UUID]
) -> list[ParsedItem | Rejection]:
    """The upload items of a parsed file, given the device id each file device maps to."""
    items: list[ParsedItem | Rejection] = []
    for row in parsed.rows:
        if isinstance(row.build, Rejection):
            items.append(row.build)
            continue
        kind, when, value, flag = row.build
        offset = when.utcoffset()
        items.append(
            GlucoseItem(
                kind=kind,
                device_id=device_ids[row.device],
                measured_at=when,
                utc_offset_minutes=int(offset.total_seconds() // 60) if offset else 0,
                value=value,
                unit=row.device.unit,
                flag=flag,
            )
        )
    return items
