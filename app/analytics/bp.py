"""Blood pressure as a hypertension clinic reads it: ABPM, home BP (HBPM) and office grading.

Definitions (limits and thresholds are settings: they differ between guidelines):

- Editing (artefacts): a reading with SBP or DBP outside the editing limits, DBP >= SBP, or a
  pulse pressure (SBP - DBP) outside its limits is excluded from every statistic; it stays
  stored and drawn. Fixed limits as docs/domain.md gives them (SBP 50-240, DBP 40-140;
  pulse pressure 10-150 is this service's default), all settings.
- Awake / asleep (ESH 2023, Mancia et al., J Hypertens 2023;41:1874): per reading, the wearer's
  wake flag; else the sleep diary (bed to rise is asleep, the rest awake, for readings within
  `DIARY_REACH` of a diary night); else the narrow fixed windows (awake 09-21, asleep 01-06
  local time), readings outside both counting for 24 h only.
- Per period, for SBP and DBP: N, mean, SD (n - 1), CV = SD / mean x 100, ARV = mean of
  |x(i+1) - x(i)| (Mena et al., J Hypertens 2005;23:505, without its time weights) and
  successive variation SV = sqrt(mean of (x(i+1) - x(i))^2) (Levitan et al., J Hum Hypertens
  2013;27:589; the root mean square of successive differences of ABPM in J Hypertens Suppl
  1989;7(3):S81), both over pairs of readings next to each other in the edited recording that
  are both in the period.
- Dipping: night-to-day ratio = asleep mean / awake mean, dipping % = (1 - ratio) x 100;
  extreme dipper ratio <= 0.8, dipper 0.8 < ratio <= 0.9, non-dipper 0.9 < ratio <= 1.0,
  reverse dipper ratio > 1.0 (ESH 2013 ABPM position paper, O'Brien et al., J Hypertens
  2013;31:1731; the same ratios in HOPE Asia, J Clin Hypertens 2019;21:1250, table A5); so
  dipping of exactly 20 % is extreme, 10 % dipper, 0 % non-dipper.
- Hypertension on ABPM: 24 h mean >= 130/80, awake >= 135/85 or asleep >= 120/70 (systolic or
  diastolic); nocturnal hypertension: asleep mean >= 120 systolic or >= 70 diastolic (ESH 2023,
  Chinese guideline 2024). Validity: >= 70 % of the recording's readings valid after editing,
  >= 20 awake and >= 7 asleep valid readings (ESH 2023).
- Morning surge (Kario et al., Circulation 2003;107:1401): with the rise time known (diary, or
  the last asleep-to-awake change of the wake flags), morning SBP = mean of the readings in the
  2 h from rising; sleep-trough surge = morning SBP - mean of the lowest asleep SBP and the
  asleep readings just before and after it; prewaking surge = morning SBP - mean of the asleep
  readings in the 2 h before rising. A sleep-trough surge >= 55 mmHg is exaggerated.
- Office grade (Chinese guideline 2024): normal < 120/80, high-normal 120-139/80-89, grade 1
  140-159/90-99, grade 2 160-179/100-109, grade 3 >= 180/110, the higher category winning;
  only from office readings.
- HBPM (ESH 2023): morning and evening, two readings each, for 7 days; day 1 (the first local
  day with home readings) is discarded; the mean of days 2-7 against 135/85, with >= 3 days
  counted to be enough.
- Phenotype (ESH 2023): office hypertension (office mean >= 140/90) against out-of-office
  hypertension (a valid ABPM, else enough HBPM): sustained, white-coat, masked, normotension.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import NDArray

from app.analytics.cgm import FloatArray
from app.config import Settings

BoolArray = NDArray[np.bool_]

# Chinese guideline grades, checked from the highest: (grade, systolic >=, diastolic >=). The
# higher category of systolic and diastolic wins.
GRADES = (
    ("grade3", 180.0, 110.0),
    ("grade2", 160.0, 100.0),
    ("grade1", 140.0, 90.0),
    ("high_normal", 120.0, 80.0),
)
# Why a reading was excluded, in the order the rules are checked (the first that applies).
ARTEFACT_REASONS = (
    "systolic_out_of_range",
    "diastolic_out_of_range",
    "diastolic_not_below_systolic",
    "pulse_pressure_out_of_range",
)
# How far from a diary night its bed and rise times decide: a waking day (about 16 h) either
# side, so that a 24 h recording started in the morning is covered by its one night.
DIARY_REACH = 16 * 3600.0
AWAKE, ASLEEP, UNCLASSIFIED = 1, 0, -1
SLEEP_SOURCES = ("wake_flags", "diary", "fixed_windows")


def chinese_grade(systolic: float, diastolic: float) -> str:
    """normal, high_normal, grade1, grade2 or grade3 (the higher category wins)."""
    for grade, sys_at, dia_at in GRADES:
        if systolic >= sys_at or diastolic >= dia_at:
            return grade
    return "normal"


def dipping_pattern(awake_mean: float, asleep_mean: float) -> str:
    """extreme_dipper, dipper, non_dipper or reverse from the night-to-day ratio (compared
    without dividing, so that a ratio of exactly 0.8 / 0.9 / 1.0 lands where it should)."""
    if asleep_mean * 10 <= awake_mean * 8:
        return "extreme_dipper"
    if asleep_mean * 10 <= awake_mean * 9:
        return "dipper"
    if asleep_mean <= awake_mean:
        return "non_dipper"
    return "reverse"


def plausible(systolic: Any, diastolic: Any, settings: Settings) -> Any:
    """The editing rule as one expression, true for a valid reading: over numbers, numpy arrays
    or SQL columns alike (`&` and comparisons build each), so the SQL aggregates of the doctor's
    panel screen readings as the summaries do. Same limits and order as `artefacts`."""
    pulse_pressure = systolic - diastolic
    return (
        (systolic >= settings.bp_edit_systolic_min)
        & (systolic <= settings.bp_edit_systolic_max)
        & (diastolic >= settings.bp_edit_diastolic_min)
        & (diastolic <= settings.bp_edit_diastolic_max)
        & (diastolic < systolic)
        & (pulse_pressure >= settings.bp_edit_pulse_pressure_min)
        & (pulse_pressure <= settings.bp_edit_pulse_pressure_max)
    )


def artefacts(systolic: FloatArray, diastolic: FloatArray, settings: Settings) -> list[str | None]:
    """Each reading's exclusion reason (see `ARTEFACT_REASONS`), None for a valid one."""
    reasons: list[str | None] = []
    for sbp, dbp in zip(systolic.tolist(), diastolic.tolist(), strict=True):
        pulse_pressure = sbp - dbp
        if not settings.bp_edit_systolic_min <= sbp <= settings.bp_edit_systolic_max:
            reasons.append(ARTEFACT_REASONS[0])
        elif not settings.bp_edit_diastolic_min <= dbp <= settings.bp_edit_diastolic_max:
            reasons.append(ARTEFACT_REASONS[1])
        elif dbp >= sbp:
            reasons.append(ARTEFACT_REASONS[2])
        elif not (
            settings.bp_edit_pulse_pressure_min
            <= pulse_pressure
            <= settings.bp_edit_pulse_pressure_max
        ):
            reasons.append(ARTEFACT_REASONS[3])
        else:
            reasons.append(None)
    return reasons


@dataclass(frozen=True)
class Editing:
    """How many readings were screened and excluded, and why."""

    readings: int
    excluded: int
    reasons: dict[str, int]


def editing(reasons: list[str | None]) -> Editing:
    """The counts of these exclusion reasons."""
    counts = dict.fromkeys(ARTEFACT_REASONS, 0)
    for reason in reasons:
        if reason is not None:
            counts[reason] += 1
    return Editing(len(reasons), sum(counts.values()), counts)


def sleep_states(
    epochs: FloatArray,
    local_hours: FloatArray,
    wake_flags: list[bool | None],
    sleep_periods: list[tuple[float, float]],
    settings: Settings,
) -> tuple[NDArray[np.int8], list[str]]:
    """Each reading's state (AWAKE, ASLEEP, UNCLASSIFIED) and what decided it (wake_flags,
    diary or fixed_windows), in this order of precedence."""
    states = np.full(epochs.size, UNCLASSIFIED, dtype=np.int8)
    sources: list[str] = []
    for i, (at, hour, flag) in enumerate(
        zip(epochs.tolist(), local_hours.tolist(), wake_flags, strict=True)
    ):
        if flag is not None:
            states[i] = AWAKE if flag else ASLEEP
            sources.append("wake_flags")
            continue
        nights = [(b, r) for b, r in sleep_periods if b - DIARY_REACH <= at < r + DIARY_REACH]
        if nights:
            states[i] = ASLEEP if any(b <= at < r for b, r in nights) else AWAKE
            sources.append("diary")
            continue
        if settings.bp_fallback_awake_start_hour <= hour < settings.bp_fallback_awake_end_hour:
            states[i] = AWAKE
        elif settings.bp_fallback_asleep_start_hour <= hour < settings.bp_fallback_asleep_end_hour:
            states[i] = ASLEEP
        sources.append("fixed_windows")
    return states, sources


@dataclass(frozen=True)
class Variability:
    """One pressure over one period: mean, SD (n-1), CV %, ARV and successive variation."""

    mean: float | None
    sd: float | None
    cv_percent: float | None
    arv: float | None
    sv: float | None


def variability(values: FloatArray, in_period: BoolArray) -> Variability:
    """Statistics of the values in the period; ARV and SV over neighbouring pairs (in the
    whole ordered series) that are both in the period."""
    chosen = values[in_period]
    if chosen.size == 0:
        return Variability(None, None, None, None, None)
    mean = float(chosen.mean())
    sd = float(chosen.std(ddof=1)) if chosen.size > 1 else None
    pairs = in_period[1:] & in_period[:-1]
    steps = np.diff(values)[pairs]
    return Variability(
        mean=mean,
        sd=sd,
        cv_percent=100.0 * sd / mean if sd is not None and mean else None,
        arv=float(np.abs(steps).mean()) if steps.size else None,
        sv=float(np.sqrt((steps**2).mean())) if steps.size else None,
    )


@dataclass(frozen=True)
class PeriodStats:
    """A part of the recording (awake, asleep or 24 h): readings and statistics."""

    readings: int
    systolic: Variability
    diastolic: Variability
    pulse: float | None


def period_stats(
    systolic: FloatArray, diastolic: FloatArray, pulse: FloatArray, in_period: BoolArray
) -> PeriodStats:
    """The statistics of the readings in the period."""
    known_pulse = pulse[in_period & ~np.isnan(pulse)]
    return PeriodStats(
        readings=int(in_period.sum()),
        systolic=variability(systolic, in_period),
        diastolic=variability(diastolic, in_period),
        pulse=float(known_pulse.mean()) if known_pulse.size else None,
    )


@dataclass(frozen=True)
class Dipping:
    """Night-to-day ratio, dipping % and pattern of one pressure."""

    ratio: float
    percent: float
    pattern: str


def dipping(awake: float | None, asleep: float | None) -> Dipping | None:
    """The dipping of asleep against awake means (None without both)."""
    if awake is None or asleep is None or awake <= 0:
        return None
    ratio = asleep / awake
    return Dipping(ratio, 100.0 * (awake - asleep) / awake, dipping_pattern(awake, asleep))


@dataclass(frozen=True)
class MorningSurge:
    """Systolic morning surge around the rise time (None parts: no readings there)."""

    rise_at: float | None  # epoch seconds
    morning_systolic: float | None
    sleep_trough: float | None
    prewaking: float | None
    exaggerated: bool | None


def rise_time(
    epochs: FloatArray,
    states: NDArray[np.int8],
    sources: list[str],
    sleep_periods: list[tuple[float, float]],
) -> float | None:
    """When the wearer rose: the latest diary rise time within the recording, else the first
    awake reading after the last flagged asleep one; None with fixed windows only."""
    if epochs.size == 0:
        return None
    first, last = float(epochs[0]), float(epochs[-1])
    rises = [r for _, r in sleep_periods if first <= r <= last]
    if rises and "diary" in sources:
        return max(rises)
    flagged = np.array([s == "wake_flags" for s in sources])
    for i in range(epochs.size - 1, 0, -1):
        if flagged[i] and flagged[i - 1] and states[i] == AWAKE and states[i - 1] == ASLEEP:
            return float(epochs[i])
    return None


def morning_surge(
    epochs: FloatArray,
    systolic: FloatArray,
    states: NDArray[np.int8],
    rise: float | None,
    settings: Settings,
) -> MorningSurge:
    """The sleep-trough and prewaking surges of the edited readings around `rise`."""
    if rise is None:
        return MorningSurge(None, None, None, None, None)
    window = settings.bp_surge_window_minutes * 60.0
    morning = systolic[(epochs >= rise) & (epochs < rise + window)]
    asleep_before = (states == ASLEEP) & (epochs < rise)
    before = systolic[asleep_before & (epochs >= rise - window)]
    trough = None
    if asleep_before.any():
        candidates = np.flatnonzero(asleep_before)
        lowest = int(candidates[np.argmin(systolic[candidates])])
        around = [
            i
            for i in (lowest - 1, lowest, lowest + 1)
            if 0 <= i < systolic.size and asleep_before[i]
        ]
        trough = float(systolic[around].mean())
    morning_mean = float(morning.mean()) if morning.size else None
    sleep_trough = None
    if morning_mean is not None and trough is not None:
        sleep_trough = morning_mean - trough
    return MorningSurge(
        rise_at=rise,
        morning_systolic=morning_mean,
        sleep_trough=sleep_trough,
        prewaking=morning_mean - float(before.mean())
        if morning_mean is not None and before.size
        else None,
        exaggerated=sleep_trough >= settings.bp_surge_exaggerated_systolic
        if sleep_trough is not None
        else None,
    )


def _at_or_above(stats: PeriodStats, systolic: float, diastolic: float) -> bool | None:
    sbp, dbp = stats.systolic.mean, stats.diastolic.mean
    if sbp is None or dbp is None:
        return None
    return sbp >= systolic or dbp >= diastolic


@dataclass(frozen=True)
class Abpm:
    """The summary of an ambulatory recording."""

    readings: int  # stored, before editing
    valid_readings: int
    valid_percent: float | None
    valid: bool
    sleep_source: str | None  # wake_flags, diary, fixed_windows or mixed
    classified_by: dict[str, int]
    all_day: PeriodStats
    awake: PeriodStats
    asleep: PeriodStats
    systolic_dipping: Dipping | None
    diastolic_dipping: Dipping | None
    above_24h: bool | None
    above_awake: bool | None
    above_asleep: bool | None
    hypertension: bool | None  # any of the three
    nocturnal_hypertension: bool | None
    morning_surge: MorningSurge


def abpm(
    epochs: FloatArray,
    local_hours: FloatArray,
    systolic: FloatArray,
    diastolic: FloatArray,
    pulse: FloatArray,
    wake_flags: list[bool | None],
    excluded: BoolArray,
    sleep_periods: list[tuple[float, float]],
    settings: Settings,
) -> Abpm:
    """The ABPM summary of a recording's readings (oldest first, epoch seconds, local hour as a
    float, mmHg; `excluded` marks artefacts; sleep periods as epoch (bed, rise) pairs)."""
    keep = ~excluded
    epochs, local_hours = epochs[keep], local_hours[keep]
    systolic, diastolic, pulse = systolic[keep], diastolic[keep], pulse[keep]
    flags = [f for f, k in zip(wake_flags, keep.tolist(), strict=True) if k]
    states, sources = sleep_states(epochs, local_hours, flags, sleep_periods, settings)
    everything = np.ones(epochs.size, dtype=np.bool_)
    all_day = period_stats(systolic, diastolic, pulse, everything)
    awake = period_stats(systolic, diastolic, pulse, states == AWAKE)
    asleep = period_stats(systolic, diastolic, pulse, states == ASLEEP)
    stored = int(excluded.size)
    valid_count = int(epochs.size)
    classified_by = {source: sources.count(source) for source in SLEEP_SOURCES}
    used = [source for source in SLEEP_SOURCES if classified_by[source]]
    above = (
        _at_or_above(all_day, settings.bp_24h_systolic, settings.bp_24h_diastolic),
        _at_or_above(awake, settings.bp_day_systolic, settings.bp_day_diastolic),
        _at_or_above(asleep, settings.bp_night_systolic, settings.bp_night_diastolic),
    )
    known = [a for a in above if a is not None]
    rise = rise_time(epochs, states, sources, sleep_periods)
    return Abpm(
        readings=stored,
        valid_readings=valid_count,
        valid_percent=100.0 * valid_count / stored if stored else None,
        valid=stored > 0
        and valid_count * 100 >= settings.bp_abpm_min_valid_percent * stored
        and awake.readings >= settings.bp_abpm_min_day_readings
        and asleep.readings >= settings.bp_abpm_min_night_readings,
        sleep_source=(used[0] if len(used) == 1 else "mixed") if used else None,
        classified_by=classified_by,
        all_day=all_day,
        awake=awake,
        asleep=asleep,
        systolic_dipping=dipping(awake.systolic.mean, asleep.systolic.mean),
        diastolic_dipping=dipping(awake.diastolic.mean, asleep.diastolic.mean),
        above_24h=above[0],
        above_awake=above[1],
        above_asleep=above[2],
        hypertension=any(known) if known else None,
        nocturnal_hypertension=above[2],
        morning_surge=morning_surge(epochs, systolic, states, rise, settings),
    )


@dataclass(frozen=True)
class Office:
    """Office readings: their mean and the Chinese grade of it."""

    readings: int
    systolic: float | None
    diastolic: float | None
    grade: str | None
    hypertension: bool | None


def office(systolic: FloatArray, diastolic: FloatArray, settings: Settings) -> Office:
    """The office summary of valid office readings."""
    if systolic.size == 0:
        return Office(0, None, None, None, None)
    sbp, dbp = float(systolic.mean()), float(diastolic.mean())
    return Office(
        readings=int(systolic.size),
        systolic=sbp,
        diastolic=dbp,
        grade=chinese_grade(sbp, dbp),
        hypertension=sbp >= settings.bp_office_systolic or dbp >= settings.bp_office_diastolic,
    )


@dataclass(frozen=True)
class HomeDay:
    """A day of the home protocol that counts: its morning and evening readings."""

    day: date
    morning: int
    evening: int


@dataclass(frozen=True)
class Home:
    """The HBPM protocol: the discarded first day, the days that count and their mean."""

    readings: int  # valid home readings in the period
    first_day: date | None  # discarded
    days: list[HomeDay]
    counted_readings: int
    systolic: float | None
    diastolic: float | None
    enough: bool
    hypertension: bool | None


def home(
    local_days: list[date],
    local_hours: FloatArray,
    systolic: FloatArray,
    diastolic: FloatArray,
    settings: Settings,
) -> Home:
    """The HBPM summary of valid home readings (their local day and hour)."""
    if not local_days:
        return Home(0, None, [], 0, None, None, False, None)
    first = min(local_days)
    offsets = np.array([(d - first).days for d in local_days])
    counted = (offsets >= 1) & (offsets < settings.bp_home_protocol_days)
    evening = local_hours >= settings.bp_home_evening_from_hour
    days = [
        HomeDay(
            day=d,
            morning=int(((offsets == (d - first).days) & ~evening).sum()),
            evening=int(((offsets == (d - first).days) & evening).sum()),
        )
        for d in sorted({d for d, c in zip(local_days, counted.tolist(), strict=True) if c})
    ]
    sbp = float(systolic[counted].mean()) if counted.any() else None
    dbp = float(diastolic[counted].mean()) if counted.any() else None
    enough = len(days) >= settings.bp_home_min_days
    return Home(
        readings=len(local_days),
        first_day=first,
        days=days,
        counted_readings=int(counted.sum()),
        systolic=sbp,
        diastolic=dbp,
        enough=enough,
        hypertension=(sbp >= settings.bp_home_systolic or dbp >= settings.bp_home_diastolic)
        if enough and sbp is not None and dbp is not None
        else None,
    )


def phenotype(
    office_summary: Office, ambulatory: Abpm, home_summary: Home
) -> tuple[str | None, str | None]:
    """(sustained_hypertension | white_coat_hypertension | masked_hypertension | normotension,
    the out-of-office basis: ambulatory or home), (None, None) without both sides."""
    if office_summary.hypertension is None:
        return None, None
    if ambulatory.valid and ambulatory.hypertension is not None:
        outside, basis = ambulatory.hypertension, "ambulatory"
    elif home_summary.hypertension is not None:
        outside, basis = home_summary.hypertension, "home"
    else:
        return None, None
    if office_summary.hypertension:
        return ("sustained_hypertension" if outside else "white_coat_hypertension"), basis
    return ("masked_hypertension" if outside else "normotension"), basis
