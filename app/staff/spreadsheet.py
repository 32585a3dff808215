"""Reading a staff spreadsheet: an XLSX workbook (its first sheet) or a CSV file as Excel and
WPS write it (UTF-8 with or without a BOM, or GBK/GB18030; CRLF or LF), into rows of text."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, datetime

from openpyxl import load_workbook

# 500 people is several institutions' staff at once; an import this size stays well within
# the 1 MiB request body limit (app/request_bodies.py) and hashes its passwords in seconds.
MAX_ROWS = 500
MAX_BYTES = 512 * 1024

_XLSX_MAGIC = b"PK\x03\x04"


class UnreadableSpreadsheet(Exception):
    """Neither a readable XLSX workbook nor a CSV file in a known encoding."""


def read_rows(content: bytes) -> list[list[str]]:
    """The spreadsheet's rows as cell texts (header first), at most MAX_ROWS + 1 of them
    (callers refuse a file with more); trailing empty cells and empty rows are dropped."""
    rows = _xlsx_rows(content) if content.startswith(_XLSX_MAGIC) else _csv_rows(content)
    return [row for row in (_trimmed(r) for r in rows) if row]


def _trimmed(row: list[str]) -> list[str]:
    cells = [cell.strip() for cell in row]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _xlsx_rows(content: bytes) -> list[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise UnreadableSpreadsheet() from exc
    try:
        sheet = workbook.worksheets[0]
        # One row past the limit is enough to know the file is too long.
        return [
            [_cell_text(value) for value in row]
            for row in sheet.iter_rows(max_row=MAX_ROWS + 2, values_only=True)
        ]
    finally:
        workbook.close()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a number typed in a cell, e.g. 200 read back as 200.0
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _csv_rows(content: bytes) -> list[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # Excel on a Chinese Windows saves CSV in the ANSI code page, GBK (GB18030 is its
            # superset, so it reads both).
            text = content.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise UnreadableSpreadsheet() from exc
    if "\x00" in text:
        raise UnreadableSpreadsheet()
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return [row for _, row in zip(range(MAX_ROWS + 2), reader, strict=False)]
    except csv.Error as exc:
        raise UnreadableSpreadsheet() from exc
