"""Chart images the doctor app shows as they are: the AGP report and the BP trend (SVG, PNG).

Labels are Chinese, set in Noto Sans SC shipped by the `pylopdf-fonts-zh-cn` package; SVG text
is written as glyph outlines, so it renders the same without any font on the viewer's side.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from matplotlib import dates as mdates
from matplotlib import font_manager, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from pylopdf_fonts_zh_cn import sans_path

from app.analytics.schemas import BpSummaryOut, CgmSummaryOut
from app.config import Settings
from app.reading.units import MG_DL_PER_MMOL_L

MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
# Matplotlib's font cache and text layout are shared state: render one chart at a time.
_render_lock = threading.Lock()
GREEN, DARK_BLUE, LIGHT_BLUE = "#2e9e49", "#1f4e9c", "#9bb7e6"
BAND_COLOURS = ("#8b1a1a", "#e53935", "#43a047", "#fbc02d", "#ef6c00")
PATTERN_ZH = {
    "dipper": "勺型",
    "extreme_dipper": "超勺型",
    "non_dipper": "非勺型",
    "reverse": "反勺型",
}
GRADE_ZH = {
    "normal": "正常",
    "high_normal": "正常高值",
    "grade1": "1级高血压",
    "grade2": "2级高血压",
    "grade3": "3级高血压",
}


@cache
def _font_family() -> str:
    path = str(sans_path())
    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()


@contextmanager
def _figure(width: float, height: float) -> Iterator[Figure]:
    # One render at a time, in the shipped CJK font, SVG text as outlines.
    with (
        _render_lock,
        rc_context(
            {"font.family": [_font_family()], "axes.unicode_minus": False, "svg.fonttype": "path"}
        ),
    ):
        figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
        figure.set_facecolor("white")
        yield figure


def _encode(figure: Figure, image_format: str) -> bytes:
    buffer = io.BytesIO()
    # No creation date in SVGs: the same data gives the same bytes.
    metadata = {"Date": None} if image_format == "svg" else None
    figure.savefig(buffer, format=image_format, metadata=metadata)
    return buffer.getvalue()


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def _metric_panel(axes: Axes, summary: CgmSummaryOut) -> None:
    m = summary.metrics
    tir = m.time_in_ranges
    shares = [tir.very_low, tir.low, tir.in_range, tir.high, tir.very_high]
    labels = ["极低 <3.0", "低 3.0-3.8", "目标 3.9-10.0", "高 10.1-13.9", "极高 >13.9"]
    bottom = 0.0
    # Labels sit at fixed heights (small bands would overlap) with a leader to their segment.
    for row, (share, colour, label) in enumerate(zip(shares, BAND_COLOURS, labels, strict=True)):
        axes.bar(0, share, bottom=bottom, color=colour, width=0.6)
        label_y = 10 + 20 * row
        axes.plot([0.32, 0.5], [bottom + share / 2, label_y], color="#999999", linewidth=0.6)
        axes.text(0.55, label_y, f"{label}  {share:.1f}%", va="center", fontsize=9)
        bottom += share
    axes.set_xlim(-0.4, 2.6)
    axes.set_ylim(0, 100)
    axes.axis("off")
    axes.set_title("葡萄糖目标范围内时间 (TIR)", fontsize=11, loc="left")
    lines = [
        f"平均葡萄糖  {_fmt(m.mean_mmol_l)} mmol/L",
        f"血糖管理指标 GMI  {_fmt(m.gmi_percent, suffix='%')}",
        f"变异系数 CV  {_fmt(m.cv_percent, suffix='%')}",
        f"标准差 SD  {_fmt(m.sd_mmol_l)} mmol/L",
        f"CGM 佩戴时间  {m.active_percent:.1f}%",
        f"数据天数  {m.days_with_data} / {summary.period.days}",
        "数据充足" if m.sufficient else "数据不足（<70% 或 <14 天）",
    ]
    axes.text(-0.35, -4, "\n".join(lines), va="top", fontsize=9.5, linespacing=1.6)


def _agp_axes(axes: Axes, summary: CgmSummaryOut, settings: Settings) -> None:
    agp = summary.agp
    hours = np.array([*agp.minute_of_day, 1440]) / 60.0

    def series(values: list[float | None]) -> np.ndarray:
        data = np.array([np.nan if v is None else v for v in values], dtype=float)
        return np.append(data, data[:1]) / MG_DL_PER_MMOL_L  # close the day at 24:00

    p5, p25, p50, p75, p95 = (series(v) for v in (agp.p5, agp.p25, agp.p50, agp.p75, agp.p95))
    axes.axhspan(3.9, 10.0, color=GREEN, alpha=0.08)
    axes.axhline(3.9, color=GREEN, linewidth=1.2)
    axes.axhline(10.0, color=GREEN, linewidth=1.2)
    axes.fill_between(hours, p5, p95, color=LIGHT_BLUE, alpha=0.55, linewidth=0, label="5%–95%")
    axes.fill_between(hours, p25, p75, color=DARK_BLUE, alpha=0.45, linewidth=0, label="25%–75%")
    axes.plot(hours, p50, color=DARK_BLUE, linewidth=2.2, label="中位数 50%")
    axes.plot(hours, p5, color=LIGHT_BLUE, linewidth=0.8, linestyle="--")
    axes.plot(hours, p95, color=LIGHT_BLUE, linewidth=0.8, linestyle="--")
    axes.set_xlim(0, 24)
    axes.set_ylim(0, 22.2)
    axes.set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    axes.set_ylabel("葡萄糖 (mmol/L)")
    axes.set_xlabel("一天中的时间（患者当地时间）")
    axes.grid(alpha=0.25)
    axes.text(24.2, 3.9, "3.9", va="center", fontsize=8, color=GREEN)
    axes.text(24.2, 10.0, "10.0", va="center", fontsize=8, color=GREEN)
    axes.legend(loc="upper right", fontsize=8.5, frameon=False)
    axes.set_title("动态葡萄糖图谱 (AGP)", fontsize=12, loc="left")


def agp_chart(
    summary: CgmSummaryOut, patient_name: str | None, settings: Settings, image_format: str
) -> bytes:
    """The AGP report: metric panel, TIR bar, percentile bands over the target range."""
    with _figure(11, 5.6) as figure:
        grid = figure.add_gridspec(1, 2, width_ratios=[1, 2.6])
        period = summary.period
        figure.suptitle(
            f"{patient_name or '患者'}  ·  {period.start_date} 至 {period.end_date}"
            f"（{period.days} 天）",
            fontsize=13,
            x=0.01,
            ha="left",
        )
        _metric_panel(figure.add_subplot(grid[0, 0]), summary)
        _agp_axes(figure.add_subplot(grid[0, 1]), summary, settings)
        return _encode(figure, image_format)


def _bp_facts(summary: BpSummaryOut) -> str:
    all_day, day, night = summary.all_day, summary.day, summary.night
    return (
        f"24小时平均 {_fmt(all_day.systolic, 0)}/{_fmt(all_day.diastolic, 0)} mmHg  ·  "
        f"日间 {_fmt(day.systolic, 0)}/{_fmt(day.diastolic, 0)}  ·  "
        f"夜间 {_fmt(night.systolic, 0)}/{_fmt(night.diastolic, 0)}  ·  "
        f"夜间下降率 {_fmt(summary.dipping_percent, suffix='%')} "
        f"{PATTERN_ZH.get(summary.pattern or '', '')}  ·  "
        f"分级 {GRADE_ZH.get(summary.grade or '', '—')}"
    )


def bp_chart(
    summary: BpSummaryOut,
    points: np.ndarray,
    patient_name: str | None,
    settings: Settings,
    image_format: str,
) -> bytes:
    """The BP trend: every reading, daily means, home thresholds and the grade-3 lines.

    `points` rows are (epoch seconds, systolic, diastolic, pulse).
    """
    zone = ZoneInfo(summary.period.timezone)
    moments = [datetime.fromtimestamp(t, UTC).astimezone(zone) for t in points[:, 0]]
    by_day: dict[date, list[int]] = {}
    for index, moment in enumerate(moments):
        by_day.setdefault(moment.date(), []).append(index)
    when = mdates.date2num(moments)
    noons = mdates.date2num([datetime.combine(d, time(12), zone) for d in by_day])
    with _figure(11, 5) as figure:
        axes = figure.add_subplot()
        for column, colour, name in ((1, "#c62828", "收缩压"), (2, "#1565c0", "舒张压")):
            axes.scatter(when, points[:, column], s=14, color=colour, alpha=0.55, label=name)
            means = [points[rows, column].mean() for rows in by_day.values()]
            axes.plot(noons, means, color=colour, linewidth=2, label=f"日均{name}")
        axes.axhline(settings.bp_day_systolic, color="#c62828", linestyle=":", linewidth=1)
        axes.axhline(settings.bp_day_diastolic, color="#1565c0", linestyle=":", linewidth=1)
        axes.axhline(settings.alert_bp_systolic, color="#6a1b9a", linestyle="--", linewidth=1)
        axes.axhline(settings.alert_bp_diastolic, color="#6a1b9a", linestyle="--", linewidth=1)
        period = summary.period
        axes.set_xlim(
            mdates.date2num(datetime.combine(period.start_date, time(), zone)),
            mdates.date2num(datetime.combine(period.end_date + timedelta(days=1), time(), zone)),
        )
        axes.xaxis.set_major_locator(mdates.DayLocator(tz=zone))
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d", tz=zone))
        axes.set_ylim(40, 220)
        axes.set_ylabel("血压 (mmHg)")
        axes.grid(alpha=0.25)
        axes.legend(loc="upper right", fontsize=8.5, ncols=2, frameon=False)
        axes.set_title(
            f"血压趋势  {patient_name or '患者'}  {period.start_date} 至 {period.end_date}\n"
            f"{_bp_facts(summary)}",
            fontsize=11,
            loc="left",
        )
        return _encode(figure, image_format)
