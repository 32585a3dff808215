"""Chart images drawn: the AGP report and the BP trend (SVG, PNG) of their specs.

This module is what a renderer process (`chart_renderer`) needs: matplotlib, the font and the
spec types, nothing of the service (no database, no web framework), so the process starts fast
and small. `charts` makes the specs from summaries.

Drawing holds the GIL for most of its time, so the figures are built once per process and a
render only sets their texts and data: building axes, ticks and legends and laying them out was
most of the cost. An AGP PNG goes further: what does not change from patient to patient is drawn
once per language into a kept background, a render draws only the patient's bars and bands over
it, Pillow sets the patient's texts where matplotlib would, straight into the canvas's pixels,
and the PNG is written unfiltered (~17 ms of CPU on a quiet machine, `bench.chart_render`; ~40
with matplotlib setting the texts and Pillow's encoder, ~125 for a whole draw).

Labels are set in Noto Sans SC shipped by the `pylopdf-fonts-zh-cn` package (it has the Latin
glyphs too); SVG text is written as glyph outlines, so it renders the same without any font on
the viewer's side.
"""

from __future__ import annotations

import io
import math
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from matplotlib import dates as mdates
from matplotlib import font_manager, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image, ImageDraw, ImageFont
from pylopdf_fonts_zh_cn import sans_path

from app.analytics.cgm import FloatArray

# Part of every image key: bump it when the drawing changes, so that ETags and cached images of
# the old drawing lapse.
DRAWING_REVISION = 6
# Matplotlib's font cache and text layout, and the figures below, are shared state: render one
# chart at a time.
_render_lock = threading.Lock()
# Axes boxes (left, bottom, width, height in figure fractions), fixed: the labels are the same
# every time (of known length in either language), and a layout engine measuring every text
# to place them cost a third of a render.
# The metric text hangs below the TIR bar, hence the AGP panel's high bottom edge.
AGP_PANEL_BOX = (0.004, 0.295, 0.252, 0.609)
AGP_BOX = (0.316, 0.295, 0.655, 0.609)
BP_BOX = (0.052, 0.056, 0.929, 0.862)
GREEN, DARK_BLUE, LIGHT_BLUE = "#2e9e49", "#1f4e9c", "#9bb7e6"
BAND_COLOURS = ("#8b1a1a", "#e53935", "#43a047", "#fbc02d", "#ef6c00")
SYSTOLIC_COLOUR, DIASTOLIC_COLOUR, ALERT_COLOUR = "#c62828", "#1565c0", "#6a1b9a"
# The BP trend's least value axis (mmHg); it widens to show every stored reading.
BP_Y_RANGE = (40.0, 220.0)


@dataclass(frozen=True, eq=False)
class AgpSpec:
    """What the AGP report shows: texts, TIR shares (%) and percentile curves (mmol/L)."""

    heading: str
    tir_title: str
    band_labels: tuple[str, ...]  # very low .. very high, each with its share
    shares: tuple[float, ...]
    facts: str  # the metric lines under the TIR bar
    title: str
    legend: tuple[str, str, str]  # 5-95 %, 25-75 %, median
    y_label: str
    x_label: str
    hours: FloatArray  # local hour of each bin, closed at 24:00
    percentiles: FloatArray  # rows 5, 25, 50, 75, 95; NaN where a bin has no readings


@dataclass(frozen=True, eq=False)
class BpSpec:
    """What the BP trend shows: texts, readings and daily means (matplotlib date numbers),
    threshold lines and the x range."""

    title: str
    # systolic, daily systolic, diastolic, daily diastolic, excluded
    legend: tuple[str, str, str, str, str]
    y_label: str
    timezone: str
    x_range: tuple[float, float]
    day_step: int
    when: FloatArray
    systolic: FloatArray
    diastolic: FloatArray
    excluded: FloatArray  # 1.0 for an artefact (drawn as a cross, left out of the means)
    y_range: tuple[float, float]  # wide enough for every stored reading
    noons: FloatArray  # noon of each local day with valid readings
    daily_systolic: FloatArray
    daily_diastolic: FloatArray
    thresholds: tuple[float, float, float, float]  # home day systolic, diastolic; alert both


@cache
def _font_family() -> str:
    path = str(sans_path())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


@contextmanager
def drawing() -> Iterator[None]:
    # One render at a time, in the shipped CJK font, SVG text as outlines, and SVG element ids
    # from a fixed salt (a random one by default): the same spec gives the same bytes.
    with (
        _render_lock,
        rc_context(
            {
                "font.family": [_font_family()],
                "axes.unicode_minus": False,
                "svg.fonttype": "path",
                "svg.hashsalt": "chronic-care-charts",
            }
        ),
    ):
        yield


def new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=110)
    # Kept with the figure: its renderer, and the text sizes measured with it, are reused.
    FigureCanvasAgg(figure)
    figure.set_facecolor("white")
    return figure


def encode(figure: Figure, image_format: str) -> bytes:
    if image_format == "svg":
        buffer = io.BytesIO()
        # No creation date, for the same reason.
        figure.savefig(buffer, format="svg", metadata={"Date": None})
        return buffer.getvalue()
    canvas = figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)
    canvas.draw()
    return _png(canvas)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bytes(pixels: np.ndarray) -> bytes:
    """Opaque pixels (height x width x RGB or RGBA, 8-bit; any alpha is dropped) as PNG (8-bit
    truecolour, not interlaced): its rows unfiltered, deflated at zlib level 1. Pillow's encoder
    tries each of PNG's row filters on every row and keeps the best (two thirds of its ~15 ms for
    a chart, with no option to skip it); on these flat-colour charts no filter deflates smallest
    anyway (85 KB against Pillow's 88 for an AGP report, in ~5 ms). zlib, not a faster deflate:
    the same pixels must give the same bytes in every process, since a chart's strong ETag
    names its bytes."""
    height, width, channels = pixels.shape
    assert channels in (3, 4) and pixels.dtype == np.uint8
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # each row's filter byte: 0, none
    rows[:, 1:].reshape(height, width, 3)[...] = pixels[:, :, :3]  # one copy, straight in
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(rows.data, 1)),
            _png_chunk(b"IEND", b""),
        )
    )


def _png(canvas: FigureCanvasAgg) -> bytes:
    # The canvas as drawn (white, opaque), read in place.
    return _png_bytes(np.asarray(canvas.buffer_rgba()))


@cache
def _pillow_font(size_px: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(sans_path()), size_px, layout_engine=ImageFont.Layout.BASIC)


@cache
def _font_height_metrics() -> tuple[float, float]:
    # The font's own ascent and descent per em (OS/2 typographic metrics, as matplotlib reads
    # them for line heights).
    font = font_manager.get_font(str(sans_path()))
    os2, head = font.get_sfnt_table("OS/2"), font.get_sfnt_table("head")
    assert os2 is not None and head is not None and not os2["sTypoLineGap"]
    return os2["sTypoAscender"] / head["unitsPerEm"], -os2["sTypoDescender"] / head["unitsPerEm"]


@dataclass(frozen=True)
class _Lettering:
    """One of a figure's texts set by Pillow onto its PNG where matplotlib would draw it, by
    matplotlib's own layout rules (left-aligned, 'top' or 'center', `linespacing` 'normal' or
    a factor): Pillow sets a line in a tenth of the CPU matplotlib takes (~1.3 ms each)."""

    x: float  # pixels from the left
    y: float  # pixels from the top: the text's top or middle (`va`)
    va: str
    size_px: float
    linespacing: float | str
    colour: str

    @classmethod
    def of(cls, text: Text) -> _Lettering:
        """Where and how `text` (fixed in place, left-aligned, unrotated) is drawn."""
        assert text.get_horizontalalignment() == "left" and text.get_rotation() == 0
        figure = text.get_figure(root=True)
        assert figure is not None
        x, y = text.get_transform().transform(text.get_position())
        return cls(
            x=float(x),
            y=float(figure.bbox.height - y),
            va=text.get_verticalalignment(),
            size_px=text.get_fontproperties().get_size_in_points() * figure.dpi / 72,
            linespacing=text.get_linespacing(),
            colour=to_hex(text.get_color()),
        )

    def draw(self, pixels: np.ndarray, content: str) -> None:
        """Set `content` into `pixels` (height x width x RGB or RGBA, written in place): each
        line's ink box above and below its baseline, stretched to the font's line height
        ('normal') or to `linespacing` line heights with the leading shared above and below
        (matplotlib's `Text._get_layout`)."""
        if not content:
            return
        font = _pillow_font(self.size_px)
        ascent_em, descent_em = _font_height_metrics()
        least_ascent, least_descent = ascent_em * self.size_px, descent_em * self.size_px
        lines = content.split("\n")
        boxes, baselines, top_down = [], [], 0.0
        for line in lines:
            ink_ascent, ink_descent = 0.0, 0.0
            box = font.getbbox(line, anchor="ls") if line else None
            if box is not None:
                ink_ascent, ink_descent = float(-box[1]), float(box[3])
            if self.linespacing == "normal":
                ascent, descent = max(ink_ascent, least_ascent), max(ink_descent, least_descent)
            else:
                height = float(self.linespacing) * (least_ascent + least_descent)
                leading = (height - ink_ascent - ink_descent) / 2
                ascent, descent = ink_ascent + leading, ink_descent + leading
            boxes.append(box)
            baselines.append(top_down + ascent)
            top_down += ascent + descent
        top = self.y if self.va == "top" else self.y - top_down / 2
        for line, box, baseline in zip(lines, boxes, baselines, strict=True):
            if box is not None:
                _set_line(pixels, line, font, self.colour, (self.x, top + baseline), box)


def _set_line(
    pixels: np.ndarray,
    line: str,
    font: ImageFont.FreeTypeFont,
    colour: str,
    place: tuple[float, float],
    box: tuple[float, float, float, float],
) -> None:
    # Pillow sets the line on a copy of just the pixels under its ink box, which then goes back
    # in place: the same pixels as setting it on an image of the whole canvas (the tile's corner
    # is a whole pixel, so the glyphs keep their sub-pixel offset), without making that image
    # and reading it back (~1.5 ms of a render's ~19, `bench.chart_render`).
    x, y = place
    x0 = max(math.floor(x + box[0]), 0)
    y0 = max(math.floor(y + box[1]), 0)
    x1 = min(math.ceil(x + box[2]), pixels.shape[1])
    y1 = min(math.ceil(y + box[3]), pixels.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    under = pixels[y0:y1, x0:x1, :3]
    tile = Image.fromarray(np.ascontiguousarray(under))
    ImageDraw.Draw(tile).text((x - x0, y - y0), line, font=font, fill=colour, anchor="ls")
    under[...] = np.asarray(tile)


class _AgpFigure:
    """The AGP report: metric panel and TIR bar on the left, percentile bands over the target
    range on the right."""

    def __init__(self) -> None:
        self.figure = figure = new_figure(11, 5.6)
        self.heading = figure.suptitle("", fontsize=13, x=0.01, y=0.993, ha="left")
        panel = figure.add_axes(AGP_PANEL_BOX)
        self.bars = [panel.bar(0, 0, color=colour, width=0.6)[0] for colour in BAND_COLOURS]
        # Labels sit at fixed heights (small bands would overlap) with a leader to their band.
        self.leaders = [
            panel.plot([0.32, 0.5], [0, 0], color="#999999", linewidth=0.6)[0] for _ in BAND_COLOURS
        ]
        self.band_labels = [
            panel.text(0.55, self._label_y(row), "", va="center", fontsize=9)
            for row in range(len(BAND_COLOURS))
        ]
        panel.set_xlim(-0.4, 2.6)
        panel.set_ylim(0, 100)
        panel.axis("off")
        # An explicit y: matplotlib would otherwise measure every tick label at each draw to
        # place the title above them.
        self.tir_title = panel.set_title("", fontsize=11, loc="left", y=1.0)
        self.facts = panel.text(-0.35, -4, "", va="top", fontsize=9.5, linespacing=1.6)

        axes = figure.add_axes(AGP_BOX)
        axes.axhspan(3.9, 10.0, color=GREEN, alpha=0.08)
        # The target range's edges are drawn over the bands (as lines come after fills).
        self.target_edges = [axes.axhline(v, color=GREEN, linewidth=1.2) for v in (3.9, 10.0)]
        nothing = np.full(2, np.nan)
        self.outer = axes.fill_between(
            [0, 24], nothing, nothing, color=LIGHT_BLUE, alpha=0.55, linewidth=0
        )
        self.inner = axes.fill_between(
            [0, 24], nothing, nothing, color=DARK_BLUE, alpha=0.45, linewidth=0
        )
        self.median = axes.plot([], [], color=DARK_BLUE, linewidth=2.2)[0]
        self.low = axes.plot([], [], color=LIGHT_BLUE, linewidth=0.8, linestyle="--")[0]
        self.high = axes.plot([], [], color=LIGHT_BLUE, linewidth=0.8, linestyle="--")[0]
        axes.set_xlim(0, 24)
        axes.set_ylim(0, 22.2)
        axes.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
        self.y_label = axes.set_ylabel(" ")
        self.x_label = axes.set_xlabel(" ")
        # Where matplotlib would put them beside these tick labels, fixed (it measures them all
        # at every draw otherwise).
        axes.yaxis.set_label_coords(-0.0565, 0.5)
        axes.xaxis.set_label_coords(0.5, -0.0855)
        # The grid behind the bands, as in the kept background.
        axes.set_axisbelow(True)
        axes.grid(alpha=0.25)
        axes.text(24.2, 3.9, "3.9", va="center", fontsize=8, color=GREEN)
        axes.text(24.2, 10.0, "10.0", va="center", fontsize=8, color=GREEN)
        self.legend = axes.legend(
            [self.outer, self.inner, self.median],
            [" ", " ", " "],
            loc="upper right",
            fontsize=8.5,
            frameon=False,
        )
        self.title = axes.set_title("", fontsize=12, loc="left", y=1.0)
        # What changes from patient to patient; the rest (axes, grid, ticks, target range,
        # titles, labels and legend in one language) is drawn once into a kept background (PNG).
        # In a PNG matplotlib draws the shapes over it, in the order a whole draw takes them
        # (fills, lines, then the axes' frame: the target range's edges and the frame over the
        # bands), and Pillow sets the texts.
        self.shapes = [
            *self.bars,
            *self.leaders,
            self.outer,
            self.inner,
            *self.target_edges,
            self.median,
            self.low,
            self.high,
            *axes.spines.values(),
        ]
        self.texts = [self.heading, *self.band_labels, self.facts]
        self.lettering = [_Lettering.of(text) for text in self.texts]
        self.backgrounds: dict[tuple[str, ...], Any] = {}

    @staticmethod
    def _label_y(row: int) -> float:
        return 10.0 + 20.0 * row

    def draw(self, spec: AgpSpec, image_format: str) -> bytes:
        """The image of `spec`."""
        self.y_label.set_text(spec.y_label)
        self.x_label.set_text(spec.x_label)
        for text, label in zip(self.legend.get_texts(), spec.legend, strict=True):
            text.set_text(label)
        self.tir_title.set_text(spec.tir_title)
        self.title.set_text(spec.title)
        self.heading.set_text(spec.heading)
        bottom = 0.0
        for row, (share, label) in enumerate(zip(spec.shares, spec.band_labels, strict=True)):
            self.bars[row].set_y(bottom)
            self.bars[row].set_height(share)
            self.leaders[row].set_ydata([bottom + share / 2, self._label_y(row)])
            self.band_labels[row].set_text(label)
            bottom += share
        self.facts.set_text(spec.facts)
        p5, p25, p50, p75, p95 = spec.percentiles
        self.outer.set_data(spec.hours, p5, p95)
        self.inner.set_data(spec.hours, p25, p75)
        self.median.set_data(spec.hours, p50)
        self.low.set_data(spec.hours, p5)
        self.high.set_data(spec.hours, p95)
        if image_format == "svg":
            return encode(self.figure, image_format)
        # PNG: the kept background of this language, then only the patient's shapes and texts
        # over it (most of a full draw was laying out and drawing the ~45 texts that never
        # change; matplotlib's drawing of the patient's texts was then ~45 % of a render).
        canvas = self.figure.canvas
        assert isinstance(canvas, FigureCanvasAgg)
        static = (spec.y_label, spec.x_label, *spec.legend, spec.tir_title, spec.title)
        if static not in self.backgrounds:
            for artist in [*self.shapes, *self.texts]:
                artist.set_visible(False)
            canvas.draw()
            self.backgrounds[static] = canvas.copy_from_bbox(self.figure.bbox)
            for artist in [*self.shapes, *self.texts]:
                artist.set_visible(True)
        canvas.restore_region(self.backgrounds[static])
        for artist in self.shapes:
            self.figure.draw_artist(artist)
        # The canvas's own pixels, for Pillow to set the texts into.
        pixels = np.asarray(canvas.buffer_rgba())
        for text, place in zip(self.texts, self.lettering, strict=True):
            place.draw(pixels, text.get_text())
        return _png_bytes(pixels)


class _BpFigure:
    """The BP trend: every reading, daily means, home thresholds and the grade-3 lines."""

    def __init__(self) -> None:
        self.figure = new_figure(11, 5)
        self.axes = axes = self.figure.add_axes(BP_BOX)
        self.points, self.means = [], []
        for colour in (SYSTOLIC_COLOUR, DIASTOLIC_COLOUR):
            self.points.append(axes.scatter([], [], s=14, color=colour, alpha=0.55))
            self.means.append(axes.plot([], [], color=colour, linewidth=2)[0])
        # Artefacts: drawn where they are, as black crosses (systolic and diastolic).
        self.excluded = axes.scatter([], [], s=28, marker="x", color="#212121", linewidths=1.2)
        self.thresholds = [
            axes.axhline(0, color=colour, linestyle=style, linewidth=1)
            for colour, style in (
                (SYSTOLIC_COLOUR, ":"),
                (DIASTOLIC_COLOUR, ":"),
                (ALERT_COLOUR, "--"),
                (ALERT_COLOUR, "--"),
            )
        ]
        axes.set_ylim(*BP_Y_RANGE)
        self.y_label = axes.set_ylabel(" ")
        axes.yaxis.set_label_coords(-0.0363, 0.5)
        axes.grid(alpha=0.25)
        self.legend = axes.legend(
            [self.points[0], self.means[0], self.points[1], self.means[1], self.excluded],
            [" "] * 5,
            loc="upper right",
            fontsize=8.5,
            ncols=2,
            frameon=False,
        )
        self.title = axes.set_title("", fontsize=11, loc="left", y=1.0)

    def draw(self, spec: BpSpec, image_format: str) -> bytes:
        """The image of `spec`."""
        kept = spec.excluded == 0.0
        for points, values in zip(self.points, (spec.systolic, spec.diastolic), strict=True):
            points.set_offsets(np.column_stack([spec.when[kept], values[kept]]))
        crossed = np.concatenate([spec.systolic[~kept], spec.diastolic[~kept]])
        self.excluded.set_offsets(np.column_stack([np.tile(spec.when[~kept], 2), crossed]))
        self.axes.set_ylim(*spec.y_range)
        for line, means in zip(
            self.means, (spec.daily_systolic, spec.daily_diastolic), strict=True
        ):
            line.set_data(spec.noons, means)
        for line, value in zip(self.thresholds, spec.thresholds, strict=True):
            line.set_ydata([value, value])
        zone = ZoneInfo(spec.timezone)
        self.axes.set_xlim(*spec.x_range)
        self.axes.xaxis.set_major_locator(mdates.DayLocator(interval=spec.day_step, tz=zone))
        self.axes.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d", tz=zone))
        self.y_label.set_text(spec.y_label)
        for text, label in zip(self.legend.get_texts(), spec.legend, strict=True):
            text.set_text(label)
        self.title.set_text(spec.title)
        return encode(self.figure, image_format)


@cache
def _agp_figure() -> _AgpFigure:
    return _AgpFigure()


@cache
def _bp_figure() -> _BpFigure:
    return _BpFigure()


def warm_up() -> None:
    """Load the font and build and draw the figures once (a renderer process's start), so that
    no request pays for it."""
    with drawing():
        for figure in (_agp_figure().figure, _bp_figure().figure):
            figure.canvas.draw()


def render(spec: AgpSpec | BpSpec, image_format: str) -> bytes:
    """The image of a spec, SVG or PNG (blocking and GIL-bound: `ChartRenderer` runs it in a
    renderer process)."""
    with drawing():
        if isinstance(spec, AgpSpec):
            return _agp_figure().draw(spec, image_format)
        return _bp_figure().draw(spec, image_format)
