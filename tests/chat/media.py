"""Small real files of the kinds chat accepts, built in memory for the tests."""

from __future__ import annotations

import io
import struct

import openpyxl

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TEXT = "空腹血糖 6.1 mmol/L\n餐后两小时 8.3 mmol/L\n".encode()


def xlsx() -> bytes:
    """A one-sheet workbook of readings."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["日期", "空腹血糖"])
    sheet.append(["2026-12-01", 6.1])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(seconds: float, *, brand: bytes = b"isom", timescale: int = 600) -> bytes:
    """An MP4 (or, with brand b"qt  ", QuickTime) container whose movie header says it lasts
    `seconds`."""
    ftyp = _box(b"ftyp", brand + b"\x00\x00\x02\x00" + brand + b"mp41")
    header = struct.pack(">IIII", 0, 0, timescale, round(seconds * timescale))
    mvhd = _box(b"mvhd", b"\x00\x00\x00\x00" + header + b"\x00" * 80)
    return ftyp + _box(b"moov", mvhd) + _box(b"mdat", b"\x00" * 32)
