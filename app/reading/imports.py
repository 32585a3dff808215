"""Dexcom Clarity and LibreView (US and EU) CSV exports, read into upload items.

Both formats give device-local wall-clock times without an offset; they are read in the
patient's time zone. Each file row becomes an item or a rejection, numbered by its file line.
"""

from __future__ import annotations

import csv
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.reading.items import GlucoseItem, ParsedItem, Rejection

SENTINELS = {"low": "low", "lo": "low", "high": "high", "hi": "high"}


@dataclass(frozen=True)
class ImportDevice:
    """A device named by the file (model and serial), in the unit its values are written."""

    model: str
    serial: str
    unit: str
    sample_interval_seconds: int


@dataclass(frozen=True)
class ImportRow:
    """One reading-bearing line: its line number, device, and the item or why it is not one."""

    line: int
    device: ImportDevice
    build: tuple[str, datetime, float | None, str | None] | Rejection  # kind, time, value, flag


@dataclass(frozen=True)
class ParsedFile:
    """What a file holds: its format and its reading rows."""

    format: str
    rows: list[ImportRow]


class UnrecognisedFile(ValueError):
    """Neither a Clarity nor a LibreView export."""


def _value(cell: str) -> tuple[float | None, str | None] | Rejection:
    text = cell.strip()
    if text.lower() in SENTINELS:
        return None, SENTINELS[text.lower()]
    try:
        return float(text.replace(",", ".")), None
    except ValueError:
        return Rejection("malformed", "value")


def _local(text: str, formats: tuple[str, ...], timezone: ZoneInfo) -> datetime | None:
    for fmt in formats:
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=timezone)
        except ValueError:
            continue
    return None


def _row(
    line: int,
    device: ImportDevice,
    kind: str,
    when: datetime | None,
    cell: str,
) -> ImportRow:
    if when is None:
        return ImportRow(line, device, Rejection("malformed", "timestamp"))
    value = _value(cell)
    if isinstance(value, Rejection):
        return ImportRow(line, device, value)
    return ImportRow(line, device, (kind, when, value[0], value[1]))


def _clarity(lines: list[str], timezone: ZoneInfo) -> ParsedFile:
    reader = csv.DictReader(lines)
    rows: list[ImportRow] = []
    for line, record in enumerate(reader, start=2):
        stamp = (record.get("Timestamp (YYYY-MM-DDThh:mm:ss)") or "").strip()
        if not stamp:
            continue  # the export's header block (names, devices, alert settings)
        serial = (record.get("Transmitter ID") or record.get("Source Device ID") or "").strip()
        device = ImportDevice("Dexcom CGM (Clarity)", serial or "clarity", "mg/dL", 300)
        event = (record.get("Event Type") or "").strip()
        when = _local(stamp, ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"), timezone)
        cell = record.get("Glucose Value (mg/dL)") or ""
        if event == "EGV":
            rows.append(_row(line, device, "cgm", when, cell))
        else:
            rows.append(ImportRow(line, device, Rejection("not_a_reading", "Event Type")))
    return ParsedFile("dexcom_clarity", rows)


_LIBRE_KINDS = {"0": ("cgm", "Historic Glucose"), "1": ("scan", "Scan Glucose")}


def _libreview(lines: list[str], timezone: ZoneInfo) -> ParsedFile:
    reader = csv.DictReader(lines[1:])  # line 1 is a title line
    fields = reader.fieldnames or []
    unit = "mmol/L" if any("mmol/L" in f for f in fields) else "mg/dL"
    # US exports write 12-hour US dates, EU exports 24-hour day-first dates.
    formats = (
        ("%m-%d-%Y %I:%M %p", "%m/%d/%Y %I:%M %p")
        if unit == "mg/dL"
        else ("%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M")
    )
    rows: list[ImportRow] = []
    for line, record in enumerate(reader, start=3):
        model = (record.get("Device") or "FreeStyle Libre").strip()
        serial = (record.get("Serial Number") or "").strip() or "libreview"
        # Libre 1/2 readers store a historic value every 15 minutes.
        device = ImportDevice(f"{model} (LibreView)", serial, unit, 900)
        kind_column = _LIBRE_KINDS.get((record.get("Record Type") or "").strip())
        if kind_column is None:
            rows.append(ImportRow(line, device, Rejection("not_a_reading", "Record Type")))
            continue
        kind, column = kind_column
        when = _local(record.get("Device Timestamp") or "", formats, timezone)
        rows.append(_row(line, device, kind, when, record.get(f"{column} {unit}") or ""))
    return ParsedFile(f"libreview_{'us' if unit == 'mg/dL' else 'eu'}", rows)


def parse_export(content: str, timezone: ZoneInfo) -> ParsedFile:
    """Read a Clarity or LibreView CSV export; UnrecognisedFile otherwise."""
    lines = content.lstrip("\ufeff").splitlines()
    if lines and "Timestamp (YYYY-MM-DDThh:mm:ss)" in lines[0]:
        return _clarity(lines, timezone)
    if len(lines) > 1 and lines[1].startswith("Device,Serial Number,Device Timestamp"):
        return _libreview(lines, timezone)
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
        items.append(
            GlucoseItem(
                kind=kind,  # type: ignore[arg-type]
                device_id=device_ids[row.device],
                measured_at=when,
                value=value,
                unit=row.device.unit,
                flag=flag,  # type: ignore[arg-type]
            )
        )
    return items


def read_text(body: bytes) -> str:
    """The file's text (UTF-8 with or without BOM; LibreView EU files may be Latin-1)."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        return body.decode("latin-1")
