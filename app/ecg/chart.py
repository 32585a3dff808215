"""An ECG strip drawn as clinicians read it: 25 mm/s, 10 mm/mV, on 1 mm / 5 mm grid paper.

The page is laid out in millimetres: one axes fills a figure whose size is the page's, so one
data unit is one millimetre in the SVG and in the PNG (at PNG_DPI). Rows of ten seconds
(250 mm) are stacked as on a rhythm strip, each with a 1 mV / 200 ms calibration pulse on the
left. The trace is the 0.5-40 Hz monitor view of the samples (see `analysis.display_signal`).

The drawing machinery is the AGP's (app.analytics.chart_drawing): the spec is hashed into the
ETag and cache key, rendering holds the same lock and rc settings (CJK font, SVG text as paths,
fixed SVG ids), and runs in the same renderer processes (`ChartRenderer`) behind the same image
cache. This module imports nothing of the service's database (`EcgStrip` is only a type here):
a renderer process imports it to draw a strip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from app.analytics.chart_drawing import drawing, encode, new_figure
from app.ecg.analysis import FloatArray, display_signal
from app.i18n import translate

if TYPE_CHECKING:
    from app.models import EcgStrip

MM_PER_SECOND = 25.0
MM_PER_MILLIVOLT = 10.0
ROW_SECONDS = 10.0
ROW_MM = 35.0  # each row spans 3.5 mV
BASELINE_MM = 12.0  # a row's zero line above its lower edge
LEFT_MM = 10.0  # the calibration pulse's margin; rows start here (on a major line)
RIGHT_MM = 5.0
HEADER_MM = 16.0
FOOTER_MM = 5.0
PNG_DPI = 150
MINOR_COLOUR, MAJOR_COLOUR, TRACE_COLOUR = "#f6c6c6", "#e07a7a", "#000000"
MM_PER_INCH = 25.4


@dataclass(frozen=True, eq=False)
class StripSpec:
    """What the strip image shows: its texts and its trace (mV at `rate_hz`)."""

    heading: str
    facts: str
    rate_hz: float
    millivolts: FloatArray


def page_mm(sample_count: int, rate_hz: float) -> tuple[float, float]:
    """Width and height of the page (mm) of a strip."""
    rows = max(1, math.ceil(sample_count / rate_hz / ROW_SECONDS))
    width = LEFT_MM + ROW_SECONDS * MM_PER_SECOND + RIGHT_MM
    return width, HEADER_MM + rows * ROW_MM + FOOTER_MM


def strip_spec(
    strip: EcgStrip, samples_uv: FloatArray, patient_name: str | None, zone: str
) -> StripSpec:
    """The strip image of a stored strip, in the current language."""
    local = strip.recorded_at.astimezone(ZoneInfo(zone))
    rhythm = translate(f"ecg_rhythm_{strip.device_rhythm}") if strip.device_rhythm else "—"
    rate = "—" if strip.heart_rate_bpm is None else f"{strip.heart_rate_bpm:.0f}"
    return StripSpec(
        heading=translate(
            "ecg_chart_heading",
            name=patient_name or translate("chart_patient"),
            time=local.strftime("%Y-%m-%d %H:%M:%S"),
            lead=strip.lead,
        ),
        facts=translate(
            "ecg_chart_facts",
            rate=rate,
            rhythm=rhythm,
            irregular=translate("ecg_chart_yes" if strip.rr_irregular else "ecg_chart_no"),
        ),
        rate_hz=strip.sampling_rate_hz,
        millivolts=display_signal(samples_uv, strip.sampling_rate_hz),
    )


def _grid(width: float, bottom: float, top: float) -> list[LineCollection]:
    minor: list[list[tuple[float, float]]] = []
    major: list[list[tuple[float, float]]] = []
    for x in range(int(width) + 1):
        (major if x % 5 == 0 else minor).append([(x, bottom), (x, top)])
    for y in range(int(top - bottom) + 1):
        (major if y % 5 == 0 else minor).append([(0, bottom + y), (width, bottom + y)])
    return [
        LineCollection(minor, colors=MINOR_COLOUR, linewidths=0.25),
        LineCollection(major, colors=MAJOR_COLOUR, linewidths=0.6),
    ]


def _draw(spec: StripSpec, image_format: str) -> bytes:
    count = spec.millivolts.size
    width, height = page_mm(count, spec.rate_hz)
    rows = round((height - HEADER_MM - FOOTER_MM) / ROW_MM)
    figure: Figure = new_figure(width / MM_PER_INCH, height / MM_PER_INCH)
    figure.set_dpi(PNG_DPI)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.axis("off")
    for grid in _grid(width, FOOTER_MM, FOOTER_MM + rows * ROW_MM):
        axes.add_collection(grid)
    per_row = round(ROW_SECONDS * spec.rate_hz)
    for row in range(rows):
        baseline = FOOTER_MM + (rows - 1 - row) * ROW_MM + BASELINE_MM
        pulse_x = [1.0, 2.0, 2.0, 2.0 + 0.2 * MM_PER_SECOND, 2.0 + 0.2 * MM_PER_SECOND, 8.0]
        pulse_y = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
        axes.plot(
            pulse_x,
            [baseline + v * MM_PER_MILLIVOLT for v in pulse_y],
            color=TRACE_COLOUR,
            linewidth=0.7,
        )
        values = spec.millivolts[row * per_row : (row + 1) * per_row]
        x = LEFT_MM + np.arange(values.size) / spec.rate_hz * MM_PER_SECOND
        axes.plot(x, baseline + values * MM_PER_MILLIVOLT, color=TRACE_COLOUR, linewidth=0.6)
        axes.text(
            LEFT_MM + 1,
            baseline + ROW_MM - BASELINE_MM - 3,
            f"{row * ROW_SECONDS:.0f} s",
            fontsize=6,
            color="#444444",
        )
    axes.text(2, height - 6, spec.heading, fontsize=10)
    axes.text(2, height - 12, spec.facts, fontsize=8.5)
    return encode(figure, image_format)


def render(spec: StripSpec, image_format: str) -> bytes:
    """The strip image, SVG or PNG (blocking: `ChartRenderer` runs it in a renderer process)."""
    with drawing():
        return _draw(spec, image_format)
