"""Analytics bodies: CGM summary with AGP, BP summary, the doctor's panel."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from app.analytics.bp import BpMetrics, Means
from app.analytics.cgm import CgmMetrics
from app.reading.units import MG_DL_PER_MMOL_L


def _mmol(value: float | None) -> float | None:
    return round(value / MG_DL_PER_MMOL_L, 2) if value is not None else None


class PeriodOut(BaseModel):
    start_date: date
    end_date: date
    days: int
    timezone: str
    start: datetime
    end: datetime


class TimeInRanges(BaseModel):
    """Percent of CGM time (time-weighted) in each consensus band."""

    very_low: float = Field(description="<54 mg/dL (<3.0 mmol/L)")
    low: float = Field(description="54-69 mg/dL (3.0-3.8 mmol/L)")
    in_range: float = Field(description="70-180 mg/dL (3.9-10.0 mmol/L)")
    high: float = Field(description="181-250 mg/dL (10.1-13.9 mmol/L)")
    very_high: float = Field(description=">250 mg/dL (>13.9 mmol/L)")


class CgmMetricsOut(BaseModel):
    readings: int
    days_with_data: int
    active_percent: float = Field(description="% of the period covered by CGM readings")
    sufficient: bool = Field(description=">= 14 days with >= 70% CGM time")
    mean_mg_dl: float | None
    mean_mmol_l: float | None
    sd_mg_dl: float | None = Field(description="Sample SD (n-1)")
    sd_mmol_l: float | None
    cv_percent: float | None
    gmi_percent: float | None
    time_in_ranges: TimeInRanges

    @classmethod
    def build(cls, m: CgmMetrics) -> CgmMetricsOut:
        """The body of computed metrics."""
        return cls(
            readings=m.readings,
            days_with_data=m.days_with_data,
            active_percent=m.active_percent,
            sufficient=m.sufficient,
            mean_mg_dl=m.mean_mg_dl,
            mean_mmol_l=m.mean_mmol_l,
            sd_mg_dl=m.sd_mg_dl,
            sd_mmol_l=_mmol(m.sd_mg_dl),
            cv_percent=m.cv_percent,
            gmi_percent=m.gmi_percent,
            time_in_ranges=TimeInRanges(**m.band_percent),
        )


class EpisodeOut(BaseModel):
    kind: str = Field(description="hypo_level1, hypo_level2, hyper_level1, hyper_level2")
    start: datetime
    end: datetime
    minutes: float
    extreme_mg_dl: float
    extreme_mmol_l: float | None


class AgpOut(BaseModel):
    """Percentiles by local time of day, every 15 minutes (null where there is no data)."""

    minute_of_day: list[int]
    p5: list[float | None]
    p25: list[float | None]
    p50: list[float | None]
    p75: list[float | None]
    p95: list[float | None]
    unit: str = "mg/dL"


class CgmSummaryOut(BaseModel):
    patient_id: uuid.UUID
    period: PeriodOut
    metrics: CgmMetricsOut
    episodes: dict[str, int] = Field(description="Count of episodes of each kind")
    episode_list: list[EpisodeOut]
    agp: AgpOut


class MeansOut(BaseModel):
    readings: int
    systolic: float | None
    diastolic: float | None
    pulse: float | None

    @classmethod
    def build(cls, m: Means) -> MeansOut:
        """The body of means."""
        return cls(readings=m.readings, systolic=m.systolic, diastolic=m.diastolic, pulse=m.pulse)


class BpSummaryOut(BaseModel):
    patient_id: uuid.UUID
    period: PeriodOut
    all_day: MeansOut = Field(description="24-hour means")
    day: MeansOut
    night: MeansOut
    dipping_percent: float | None
    pattern: str | None = Field(description="extreme_dipper, dipper, non_dipper, reverse")
    systolic_load_percent: float | None
    diastolic_load_percent: float | None
    grade: str | None = Field(description="Chinese guideline: normal .. grade3")
    above_24h_threshold: bool | None
    ambulatory_valid: bool = Field(description="Enough day and night readings for ABPM")

    @classmethod
    def build(cls, patient_id: uuid.UUID, period: PeriodOut, m: BpMetrics) -> BpSummaryOut:
        """The body of a BP summary."""
        return cls(
            patient_id=patient_id,
            period=period,
            all_day=MeansOut.build(m.all_day),
            day=MeansOut.build(m.day),
            night=MeansOut.build(m.night),
            dipping_percent=m.dipping_percent,
            pattern=m.pattern,
            systolic_load_percent=m.systolic_load_percent,
            diastolic_load_percent=m.diastolic_load_percent,
            grade=m.grade,
            above_24h_threshold=m.above_24h_threshold,
            ambulatory_valid=m.ambulatory_valid,
        )


class LatestOut(BaseModel):
    kind: str
    measured_at: datetime
    value: float
    value_mmol_l: float | None
    value2: float | None
    flag: str | None


class PanelEntry(BaseModel):
    patient_id: uuid.UUID
    name: str | None
    urgency_level: int = Field(description="0 none, 1 watch, 2 high, 3 urgent")
    open_alerts: int
    urgency_reasons: list[str]
    latest: dict[str, LatestOut] = Field(description="Latest reading by kind")
    cgm: CgmMetricsOut = Field(description="Last 14 local days")
    bp_readings: int
    bp_mean_systolic: float | None
    bp_mean_diastolic: float | None


class PanelOut(BaseModel):
    start_date: date
    end_date: date
    items: list[PanelEntry]
