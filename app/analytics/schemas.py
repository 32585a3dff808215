"""Analytics bodies: CGM summary with AGP, BP summary, the doctor's panel."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from app.analytics.bp import Dipping, PeriodStats, Variability
from app.analytics.cgm import CgmMetrics
from app.kit.pagination import Page
from app.models import BpSleepPeriod
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
    time_in_ranges: TimeInRanges | None = Field(
        description="null without CGM readings in the period (not 0 % in every band)"
    )

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
            time_in_ranges=TimeInRanges(**m.band_percent) if m.readings else None,
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


class VariabilityOut(BaseModel):
    """One pressure over one period (mmHg)."""

    mean: float | None
    sd: float | None = Field(description="Sample SD (n-1)")
    cv_percent: float | None = Field(description="SD / mean x 100")
    arv: float | None = Field(
        description="Average real variability: mean |x(i+1) - x(i)| over neighbouring readings "
        "both in the period (Mena et al. 2005)"
    )
    sv: float | None = Field(
        description="Successive variation: sqrt(mean (x(i+1) - x(i))^2) over the same pairs "
        "(Levitan et al. 2013)"
    )

    @classmethod
    def build(cls, v: Variability) -> VariabilityOut:
        """The body of one pressure's statistics."""
        return cls(mean=v.mean, sd=v.sd, cv_percent=v.cv_percent, arv=v.arv, sv=v.sv)


class PeriodStatsOut(BaseModel):
    readings: int = Field(description="N: valid readings in the period")
    systolic: VariabilityOut
    diastolic: VariabilityOut
    pulse: float | None = Field(description="Mean pulse (readings that carry one)")

    @classmethod
    def build(cls, p: PeriodStats) -> PeriodStatsOut:
        """The body of a period's statistics."""
        return cls(
            readings=p.readings,
            systolic=VariabilityOut.build(p.systolic),
            diastolic=VariabilityOut.build(p.diastolic),
            pulse=p.pulse,
        )


class DippingOut(BaseModel):
    ratio: float = Field(description="Night-to-day ratio: asleep mean / awake mean")
    percent: float = Field(description="(1 - ratio) x 100")
    pattern: Literal["extreme_dipper", "dipper", "non_dipper", "reverse"] = Field(
        description="ratio <= 0.8 extreme_dipper, <= 0.9 dipper, <= 1.0 non_dipper, else reverse"
    )

    @classmethod
    def of(cls, d: Dipping | None) -> DippingOut | None:
        """The body of a dipping, if there is one."""
        if d is None:
            return None
        return cls(ratio=d.ratio, percent=d.percent, pattern=d.pattern)


class MorningSurgeOut(BaseModel):
    """Systolic morning surge (Kario et al. 2003); null without a known rise time."""

    rise_at: datetime | None = Field(description="From the diary, else from the wake flags")
    morning_systolic: float | None = Field(description="Mean of the 2 h from rising")
    sleep_trough: float | None = Field(
        description="Morning mean - mean of the lowest asleep reading and its asleep neighbours"
    )
    prewaking: float | None = Field(description="Morning mean - mean of the 2 h before rising")
    exaggerated: bool | None = Field(description="Sleep-trough surge at or above the limit")


class EditingOut(BaseModel):
    """Artefact editing: the limits applied and what they excluded (kept as stored)."""

    readings: int = Field(description="BP readings screened")
    excluded: int
    reasons: dict[str, int] = Field(
        description="Excluded readings by the first rule they broke: systolic_out_of_range, "
        "diastolic_out_of_range, diastolic_not_below_systolic, pulse_pressure_out_of_range"
    )
    systolic_limits: tuple[float, float]
    diastolic_limits: tuple[float, float]
    pulse_pressure_limits: tuple[float, float]


class AbpmOut(BaseModel):
    """The ambulatory (24 h) readings of the period, edited."""

    readings: int = Field(description="Ambulatory readings stored")
    valid_readings: int
    valid_percent: float | None
    valid: bool = Field(description=">= 70% valid, >= 20 awake and >= 7 asleep readings")
    sleep_source: Literal["wake_flags", "diary", "fixed_windows", "mixed"] | None = Field(
        description="What told asleep from awake: per-reading wake flags, the sleep diary, or "
        "the fixed windows (awake 09-21, asleep 01-06 local time)"
    )
    classified_by: dict[str, int] = Field(description="Readings decided by each source")
    all_day: PeriodStatsOut = Field(description="24 hours")
    awake: PeriodStatsOut
    asleep: PeriodStatsOut
    systolic_dipping: DippingOut | None
    diastolic_dipping: DippingOut | None
    above_24h_threshold: bool | None = Field(description="24 h mean >= 130/80")
    above_awake_threshold: bool | None = Field(description="Awake mean >= 135/85")
    above_asleep_threshold: bool | None = Field(description="Asleep mean >= 120/70")
    hypertension: bool | None = Field(description="Any of the three thresholds reached")
    nocturnal_hypertension: bool | None
    morning_surge: MorningSurgeOut


class OfficeOut(BaseModel):
    readings: int
    systolic: float | None
    diastolic: float | None
    grade: Literal["normal", "high_normal", "grade1", "grade2", "grade3"] | None = Field(
        description="Chinese guideline 2024, from office readings only"
    )
    hypertension: bool | None = Field(description="Office mean >= 140/90")


class HomeDayOut(BaseModel):
    day: date
    morning: int
    evening: int


class HomeOut(BaseModel):
    """Home BP protocol: the first day is discarded; days 2-7 count."""

    readings: int
    first_day: date | None = Field(description="Day 1, discarded")
    days: list[HomeDayOut] = Field(description="The days that count, with their readings")
    counted_readings: int
    systolic: float | None
    diastolic: float | None
    enough: bool = Field(description="At least the minimum number of days counted")
    hypertension: bool | None = Field(description="Mean >= 135/85 (null when not enough)")


class BpSummaryOut(BaseModel):
    patient_id: uuid.UUID
    period: PeriodOut
    editing: EditingOut
    ambulatory: AbpmOut
    home: HomeOut
    office: OfficeOut
    phenotype: (
        Literal[
            "sustained_hypertension",
            "white_coat_hypertension",
            "masked_hypertension",
            "normotension",
        ]
        | None
    ) = Field(description="Office against out-of-office BP (null without both)")
    phenotype_basis: Literal["ambulatory", "home"] | None = Field(
        description="The out-of-office readings it was judged on: a valid ABPM, else home BP"
    )


SLEEP_PERIOD_MAX_HOURS = 18


class SleepPeriodIn(BaseModel):
    """A night of the sleep diary: when the patient went to bed and rose (with offsets)."""

    bed_at: AwareDatetime
    rise_at: AwareDatetime
    source: Literal["patient", "device"] = Field(
        default="patient", description="The patient's diary, or the recorder's own detection"
    )

    @model_validator(mode="after")
    def _rise_after_bed(self) -> SleepPeriodIn:
        hours = (self.rise_at - self.bed_at).total_seconds() / 3600
        if not 0 < hours <= SLEEP_PERIOD_MAX_HOURS:
            raise ValueError(f"rise_at must be after bed_at, by at most {SLEEP_PERIOD_MAX_HOURS} h")
        return self


class SleepPeriodOut(BaseModel):
    id: uuid.UUID
    bed_at: datetime
    rise_at: datetime
    source: Literal["patient", "device"]
    created_at: datetime

    @classmethod
    def build(cls, p: BpSleepPeriod) -> SleepPeriodOut:
        """The body of a stored sleep period."""
        return cls(
            id=p.id,
            bed_at=p.bed_at,
            rise_at=p.rise_at,
            source=p.source,
            created_at=p.created_at,
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
    bp_readings: int = Field(description="Valid BP readings in the last 14 days")
    bp_excluded: int = Field(description="BP readings excluded as artefacts (editing limits)")
    bp_mean_systolic: float | None = Field(description="Mean of the valid readings")
    bp_mean_diastolic: float | None


class PanelOut(Page[PanelEntry]):
    """A page of my patients, most urgent first."""

    start_date: date
    end_date: date
