"""Chart images the doctor app shows as they are: the AGP report and the BP trend (SVG, PNG).

A chart is made in two steps. `agp_spec` / `bp_spec` reduce a summary to what the image shows
(its texts in the request's language, and its curves and points): cheap, and the image is a pure
function of it, so `image_key` (a hash of the spec) is the image's strong validator and cache
key. `chart_drawing.render` then draws a spec, in a renderer process (`chart_renderer`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import matplotlib
import numpy as np
from matplotlib import dates as mdates

from app.analytics.cgm import BANDS
from app.analytics.chart_drawing import BP_Y_RANGE, DRAWING_REVISION, AgpSpec, BpSpec
from app.analytics.series import EPOCH_DATE, local_seconds
from app.i18n import translate
from app.reading.units import MG_DL_PER_MMOL_L

if TYPE_CHECKING:
    from app.analytics.schemas import BpSummaryOut, CgmSummaryOut
    from app.config import Settings

MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}
# The BP trend labels every day up to this many days, then every second, third ... day.
BP_MAX_DAY_LABELS = 15


def image_key(spec: Any, image_format: str) -> str:
    """The image's strong validator: a hash of everything it shows, the format and the drawing
    code. Equal keys give byte-identical images, in any process. `spec` is a chart's spec
    dataclass (AGP, BP trend, ECG strip)."""
    digest = hashlib.sha256(
        f"{type(spec).__name__}|{image_format}|{DRAWING_REVISION}|{matplotlib.__version__}".encode()
    )
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if isinstance(value, np.ndarray):
            digest.update(repr(value.shape).encode())
            digest.update(np.ascontiguousarray(value, dtype=np.float64).tobytes())
        else:
            digest.update(repr(value).encode())
        digest.update(b"\x1f")
    return digest.hexdigest()[:32]


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def agp_spec(summary: CgmSummaryOut, patient_name: str | None) -> AgpSpec:
    """The AGP report of a CGM summary, in the current language."""
    m, period, agp = summary.metrics, summary.period, summary.agp
    tir = m.time_in_ranges
    # Without readings no band has a share: empty bars, "—" beside them.
    shown = (
        (None,) * len(BANDS)
        if tir is None
        else (tir.very_low, tir.low, tir.in_range, tir.high, tir.very_high)
    )
    shares = tuple(share or 0.0 for share in shown)
    facts = [
        translate("chart_mean_glucose", value=_fmt(m.mean_mmol_l)),
        translate("chart_gmi", value=_fmt(m.gmi_percent, suffix="%")),
        translate("chart_cv", value=_fmt(m.cv_percent, suffix="%")),
        translate("chart_sd", value=_fmt(m.sd_mmol_l)),
        translate("chart_active", value=f"{m.active_percent:.1f}%"),
        translate("chart_days_with_data", days=m.days_with_data, period_days=period.days),
        translate("chart_sufficient" if m.sufficient else "chart_insufficient"),
    ]
    curves = np.array(
        [
            [np.nan if v is None else v for v in values]
            for values in (agp.p5, agp.p25, agp.p50, agp.p75, agp.p95)
        ],
        dtype=np.float64,
    ).reshape(5, -1)
    return AgpSpec(
        heading=translate(
            "chart_agp_heading",
            name=patient_name or translate("chart_patient"),
            start=period.start_date,
            end=period.end_date,
            days=period.days,
        ),
        tir_title=translate("chart_tir_title"),
        band_labels=tuple(
            f"{translate(f'chart_band_{band}')}  {_fmt(share, suffix='%')}"
            for band, share in zip(BANDS, shown, strict=True)
        ),
        shares=shares,
        facts="\n".join(facts),
        title=translate("chart_agp_title"),
        legend=("5%–95%", "25%–75%", translate("chart_agp_median")),
        y_label=translate("chart_glucose_axis"),
        x_label=translate("chart_time_of_day_axis"),
        hours=np.array([*agp.minute_of_day, 1440], dtype=np.float64) / 60.0,
        # mmol/L, the day closed at 24:00 with its first bin.
        percentiles=np.hstack([curves, curves[:, :1]]) / MG_DL_PER_MMOL_L,
    )


def _pair(systolic: float | None, diastolic: float | None) -> str:
    return f"{_fmt(systolic, 0)}/{_fmt(diastolic, 0)}"


def bp_spec(
    summary: BpSummaryOut, points: np.ndarray, patient_name: str | None, settings: Settings
) -> BpSpec:
    """The BP trend of a summary and its readings (rows: epoch seconds, systolic, diastolic,
    pulse, excluded), in the current language: every stored reading is drawn, artefacts as
    crosses; the daily means are of the valid readings."""
    period = summary.period
    zone = ZoneInfo(period.timezone)
    epoch = mdates.date2num(datetime(1970, 1, 1, tzinfo=UTC))
    valid = points[points[:, 4] == 0.0]
    days = np.floor_divide(local_seconds(valid[:, 0], zone), 86400.0).astype(np.int64)
    numbers, day_of_point = np.unique(days, return_inverse=True)
    counts = np.bincount(day_of_point, minlength=numbers.size)
    noons = [datetime.combine(EPOCH_DATE + timedelta(days=int(n)), time(12), zone) for n in numbers]
    abpm = summary.ambulatory
    dip = abpm.systolic_dipping
    facts = translate(
        "chart_bp_facts",
        all_day=_pair(abpm.all_day.systolic.mean, abpm.all_day.diastolic.mean),
        day=_pair(abpm.awake.systolic.mean, abpm.awake.diastolic.mean),
        night=_pair(abpm.asleep.systolic.mean, abpm.asleep.diastolic.mean),
        dipping=_fmt(dip.percent if dip else None, suffix="%"),
        pattern=translate(f"chart_pattern_{dip.pattern}") if dip else "",
        grade=translate(f"chart_grade_{summary.office.grade}") if summary.office.grade else "—",
        excluded=summary.editing.excluded,
    )
    heading = translate(
        "chart_bp_heading",
        name=patient_name or translate("chart_patient"),
        start=period.start_date,
        end=period.end_date,
    )
    first = datetime.combine(period.start_date, time(), zone)
    after = datetime.combine(period.end_date + timedelta(days=1), time(), zone)
    values = points[:, 1:3]
    return BpSpec(
        title=f"{heading}\n{facts}",
        legend=(
            translate("chart_systolic"),
            translate("chart_daily_systolic"),
            translate("chart_diastolic"),
            translate("chart_daily_diastolic"),
            translate("chart_excluded"),
        ),
        y_label=translate("chart_bp_axis"),
        timezone=period.timezone,
        x_range=(float(mdates.date2num(first)), float(mdates.date2num(after))),
        day_step=max(1, math.ceil(period.days / BP_MAX_DAY_LABELS)),
        when=points[:, 0] / 86400.0 + epoch,
        systolic=points[:, 1].copy(),
        diastolic=points[:, 2].copy(),
        excluded=points[:, 4].copy(),
        y_range=(
            min(BP_Y_RANGE[0], float(values.min()) - 10.0) if values.size else BP_Y_RANGE[0],
            max(BP_Y_RANGE[1], float(values.max()) + 10.0) if values.size else BP_Y_RANGE[1],
        ),
        noons=np.asarray(mdates.date2num(noons), dtype=np.float64).reshape(-1),
        daily_systolic=np.bincount(day_of_point, valid[:, 1], numbers.size) / counts,
        daily_diastolic=np.bincount(day_of_point, valid[:, 2], numbers.size) / counts,
        thresholds=(
            float(settings.bp_day_systolic),
            float(settings.bp_day_diastolic),
            float(settings.alert_bp_systolic),
            float(settings.alert_bp_diastolic),
        ),
    )
