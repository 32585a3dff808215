"""BP summary metrics against a second implementation written here in plain Python (statistics
module, explicit loops), and at every threshold's boundary."""

from __future__ import annotations

import math
import random
import statistics
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.analytics.bp import artefacts, chinese_grade, plausible
from app.analytics.repository import BpRows
from app.analytics.schemas import BpSummaryOut
from app.analytics.series import local_period
from app.analytics.service import summarise_bp
from app.config import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY1 = date(2026, 11, 30)
NOW = datetime(2026, 12, 6, tzinfo=UTC)


@dataclass
class R:
    """A reading as the tests write it: local day offset, local time, values and tags."""

    at: datetime  # local, aware
    sbp: float
    dbp: float
    pulse: float | None = None
    setting: str | None = "ambulatory"
    awake: bool | None = None


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local (Shanghai) moment `day` days after DAY1."""
    return datetime.combine(DAY1 + timedelta(days=day), time(hour, minute), SHANGHAI)


def summarise(
    readings: list[R],
    settings: Settings,
    diary: list[tuple[datetime, datetime]] = (),  # type: ignore[assignment]
    days: int = 7,
) -> BpSummaryOut:
    readings = sorted(readings, key=lambda r: r.at)
    rows = BpRows(
        epochs=[r.at.timestamp() for r in readings],
        systolic=[r.sbp for r in readings],
        diastolic=[r.dbp for r in readings],
        pulse=[r.pulse for r in readings],
        settings=[r.setting for r in readings],
        awake=[r.awake for r in readings],
    )
    period = local_period(SHANGHAI, DAY1 + timedelta(days=days - 1), days, NOW)
    _, summary = summarise_bp(uuid.uuid4(), period, rows, list(diary), settings)
    return summary


# The second implementation ---------------------------------------------------------------


def reference_stats(series: list[float], in_period: list[bool]) -> dict[str, float | None]:
    """mean, SD (n-1), CV %, ARV and SV the slow way: SD by the statistics module; ARV and SV
    over neighbours of the ordered series that are both in the period."""
    chosen = [x for x, keep in zip(series, in_period, strict=True) if keep]
    steps = [
        series[i + 1] - series[i]
        for i in range(len(series) - 1)
        if in_period[i] and in_period[i + 1]
    ]
    mean = statistics.fmean(chosen) if chosen else None
    sd = statistics.stdev(chosen) if len(chosen) > 1 else None
    return {
        "mean": mean,
        "sd": sd,
        "cv_percent": sd / mean * 100 if sd is not None and mean else None,
        "arv": sum(abs(s) for s in steps) / len(steps) if steps else None,
        "sv": math.sqrt(sum(s * s for s in steps) / len(steps)) if steps else None,
    }


def reference_pattern(ratio: float) -> str:
    """The night-to-day ratio's class (O'Brien 2013): <= 0.8, <= 0.9, <= 1.0, above."""
    if ratio <= 0.8:
        return "extreme_dipper"
    if ratio <= 0.9:
        return "dipper"
    return "non_dipper" if ratio <= 1.0 else "reverse"


def assert_stats(got: dict, expected: dict[str, float | None]) -> None:
    for name, value in expected.items():
        if value is None:
            assert got[name] is None, name
        else:
            assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name


def recording(seed: int) -> tuple[list[R], tuple[datetime, datetime]]:
    """A 24-hour ABPM from 09:00: every 20 min awake, 30 min asleep (diary 23:00-07:00)."""
    rng = random.Random(seed)
    bed, rise = at(0, 23), at(1, 7)
    readings = []
    moment = at(0, 9)
    while moment < at(1, 9):
        asleep = bed <= moment < rise
        base_s, base_d = (118, 68) if asleep else (142, 88)
        readings.append(R(moment, base_s + rng.randint(-12, 12), base_d + rng.randint(-8, 8), 70.0))
        moment += timedelta(minutes=30 if asleep else 20)
    return readings, (bed, rise)


# Tests ----------------------------------------------------------------------------------


def test_a_recording_with_its_diary_matches_the_second_implementation(settings) -> None:
    readings, (bed, rise) = recording(16)
    # The issue's artefact: one SBP 262 reading among the awake ones.
    readings[5].sbp = 262
    body = summarise(readings, settings, [(bed, rise)])
    abpm = body.ambulatory.model_dump()
    kept = [r for r in readings if r.sbp <= 240]
    asleep = [bed <= r.at < rise for r in kept]
    awake = [not a for a in asleep]
    assert body.editing.excluded == 1
    assert body.editing.reasons["systolic_out_of_range"] == 1
    assert abpm["sleep_source"] == "diary"
    for part, mask in (("awake", awake), ("asleep", asleep), ("all_day", [True] * len(kept))):
        assert abpm[part]["readings"] == sum(mask)
        assert_stats(abpm[part]["systolic"], reference_stats([r.sbp for r in kept], mask))
        assert_stats(abpm[part]["diastolic"], reference_stats([r.dbp for r in kept], mask))
    awake_sbp = statistics.fmean(r.sbp for r, a in zip(kept, awake, strict=True) if a)
    asleep_sbp = statistics.fmean(r.sbp for r, a in zip(kept, asleep, strict=True) if a)
    assert abpm["systolic_dipping"]["ratio"] == pytest.approx(asleep_sbp / awake_sbp)
    assert abpm["systolic_dipping"]["percent"] == pytest.approx(100 * (1 - asleep_sbp / awake_sbp))
    awake_dbp = statistics.fmean(r.dbp for r, a in zip(kept, awake, strict=True) if a)
    asleep_dbp = statistics.fmean(r.dbp for r, a in zip(kept, asleep, strict=True) if a)
    dbp_ratio = asleep_dbp / awake_dbp
    assert abpm["diastolic_dipping"]["ratio"] == pytest.approx(dbp_ratio)
    assert abpm["diastolic_dipping"]["percent"] == pytest.approx(100 * (1 - dbp_ratio))
    assert abpm["diastolic_dipping"]["pattern"] == reference_pattern(dbp_ratio)
    assert abpm["systolic_dipping"]["pattern"] == reference_pattern(asleep_sbp / awake_sbp)
    # 66 readings: 42 awake at 20 min, 16 asleep at 30 min, 65 valid of 66 (98.5 %).
    assert (abpm["readings"], abpm["valid_readings"]) == (len(readings), len(kept))
    assert abpm["valid"] is True


def test_the_artefact_would_have_moved_the_awake_mean(settings) -> None:
    readings, diary = recording(3)
    clean = summarise(readings, settings, [diary]).ambulatory.awake.systolic.mean
    readings[5].sbp = 262
    edited = summarise(readings, settings, [diary]).ambulatory.awake.systolic.mean
    unedited = statistics.fmean([r.sbp for r in readings if not diary[0] <= r.at < diary[1]])
    assert edited != clean  # one reading fewer
    assert unedited - edited > 2.0  # what the summary used to report


@pytest.mark.parametrize(
    ("sbp", "dbp", "reason"),
    [
        (50, 40, None),  # lowest kept SBP and DBP (pulse pressure 10)
        (240, 120, None),
        (49, 30, "systolic_out_of_range"),
        (241, 100, "systolic_out_of_range"),
        (150, 39, "diastolic_out_of_range"),
        (200, 140, None),
        (200, 141, "diastolic_out_of_range"),
        (90, 90, "diastolic_not_below_systolic"),
        (95, 100, "diastolic_not_below_systolic"),
        (100, 91, "pulse_pressure_out_of_range"),  # 9 mmHg
        (100, 90, None),  # 10 mmHg
        (200, 50, None),  # 150 mmHg
        (201, 50, "pulse_pressure_out_of_range"),  # 151 mmHg
    ],
)
def test_editing_limits_are_inclusive(settings, sbp, dbp, reason) -> None:
    body = summarise([R(at(1, 10), sbp, dbp)], settings)
    assert body.editing.excluded == (reason is not None)
    if reason:
        assert body.editing.reasons[reason] == 1
        assert body.ambulatory.all_day.readings == 0
    else:
        assert body.ambulatory.all_day.systolic.mean == sbp


def test_editing_limits_are_settings(settings) -> None:
    strict = settings.model_copy(update={"bp_edit_systolic_max": 200.0})
    body = summarise([R(at(1, 10), 210, 100), R(at(1, 11), 190, 100)], strict)
    assert body.editing.reasons["systolic_out_of_range"] == 1
    assert body.editing.systolic_limits == (50.0, 200.0)


@pytest.mark.parametrize(
    ("hour", "minute", "state"),
    [
        (8, 59, None),
        (9, 0, "awake"),
        (20, 59, "awake"),
        (21, 0, None),
        (0, 59, None),
        (1, 0, "asleep"),
        (5, 59, "asleep"),
        (6, 0, None),
    ],
)
def test_fallback_windows_edges(settings, hour, minute, state) -> None:
    abpm = summarise([R(at(1, hour, minute), 130, 80)], settings).ambulatory
    assert abpm.sleep_source == "fixed_windows"
    assert abpm.all_day.readings == 1
    assert (abpm.awake.readings, abpm.asleep.readings) == (
        int(state == "awake"),
        int(state == "asleep"),
    )


def test_wake_flags_beat_the_diary_and_the_diary_beats_the_clock(settings) -> None:
    diary = [(at(1, 23), at(2, 7))]
    readings = [
        R(at(1, 23, 30), 110, 65, awake=True),  # in the diary night, but flagged awake
        R(at(2, 0, 30), 112, 66),  # diary: asleep
        R(at(2, 7, 30), 150, 90),  # diary: awake (the clock would not say)
        R(at(2, 10), 140, 85),  # diary reach: awake
    ]
    abpm = summarise(readings, settings, diary).ambulatory
    assert abpm.sleep_source == "mixed"
    assert abpm.classified_by == {"wake_flags": 1, "diary": 3, "fixed_windows": 0}
    assert abpm.awake.readings == 3 and abpm.asleep.readings == 1
    assert abpm.asleep.systolic.mean == 112


def test_the_issue_diary_changes_the_dipping(settings) -> None:
    # Asleep 23:00-07:00 by the diary; the old clock hours (06-22) put 22-23 and 06-07 wrong.
    readings = []
    for hour in range(24):
        sleeping = hour >= 23 or hour < 7
        readings.append(R(at(1 if hour >= 9 else 2, hour), 128 if sleeping else 140, 80))
    body = summarise(readings, settings, [(at(1, 23), at(2, 7))])
    dip = body.ambulatory.systolic_dipping
    assert dip is not None and dip.percent == pytest.approx(100 * (1 - 128 / 140))


@pytest.mark.parametrize(
    ("awake", "asleep", "pattern"),
    [
        (150.0, 120.0, "extreme_dipper"),  # ratio 0.8, dipping exactly 20 %
        (150.0, 121.0, "dipper"),
        (150.0, 135.0, "dipper"),  # ratio 0.9, dipping exactly 10 %
        (150.0, 136.0, "non_dipper"),
        (150.0, 150.0, "non_dipper"),  # ratio 1.0, dipping exactly 0 %
        (150.0, 151.0, "reverse"),
        (100.0, 80.0, "extreme_dipper"),
        (100.0, 90.0, "dipper"),
    ],
)
def test_dipping_class_at_its_edges(settings, awake, asleep, pattern) -> None:
    readings = [R(at(1, 10), awake, 80), R(at(2, 3), asleep, 70)]
    dip = summarise(readings, settings).ambulatory.systolic_dipping
    assert dip is not None
    assert dip.pattern == pattern
    assert dip.percent == pytest.approx(100 * (awake - asleep) / awake)


@pytest.mark.parametrize(
    ("awake", "asleep", "pattern"),
    [
        (90.0, 72.0, "extreme_dipper"),  # ratio 0.8
        (90.0, 73.0, "dipper"),
        (80.0, 72.0, "dipper"),  # ratio 0.9
        (80.0, 73.0, "non_dipper"),
        (80.0, 80.0, "non_dipper"),  # ratio 1.0
        (80.0, 81.0, "reverse"),
    ],
)
def test_diastolic_dipping_class_at_its_edges(settings, awake, asleep, pattern) -> None:
    # Systolic dipping stays a plain dipper: the diastolic class is its own.
    readings = [R(at(1, 10), 150, awake), R(at(2, 3), 130, asleep)]
    abpm = summarise(readings, settings).ambulatory
    assert abpm.systolic_dipping is not None and abpm.systolic_dipping.pattern == "dipper"
    dip = abpm.diastolic_dipping
    assert dip is not None
    assert dip.pattern == pattern
    assert dip.ratio == pytest.approx(asleep / awake)
    assert dip.percent == pytest.approx(100 * (awake - asleep) / awake)


def test_the_issue_ambulatory_132_82_is_not_graded(settings) -> None:
    # The issue: a 24 h ambulatory mean of 132/82 came out `high_normal`. Ambulatory means are
    # read against the ABPM thresholds only; the office grade needs office readings.
    readings = [R(at(1, 7), 132, 82), R(at(1, 8), 132, 82)]
    body = summarise(readings, settings)
    assert body.ambulatory.all_day.systolic.mean == 132
    assert body.ambulatory.above_24h_threshold is True
    assert (body.office.readings, body.office.grade, body.office.hypertension) == (0, None, None)
    assert (body.phenotype, body.phenotype_basis) == (None, None)


@pytest.mark.parametrize(
    ("part", "hour", "sbp", "dbp", "above"),
    [
        ("awake", 10, 135, 70, True),
        ("awake", 10, 134.9, 84.9, False),
        ("awake", 10, 120, 85, True),
        ("asleep", 3, 120, 60, True),
        ("asleep", 3, 119.9, 69.9, False),
        ("asleep", 3, 100, 70, True),
    ],
)
def test_period_thresholds_at_their_edges(settings, part, hour, sbp, dbp, above) -> None:
    abpm = summarise([R(at(1, hour), sbp, dbp)], settings).ambulatory
    assert getattr(abpm, f"above_{part}_threshold") is above
    if part == "asleep":
        assert abpm.nocturnal_hypertension is above


@pytest.mark.parametrize(
    ("sbp", "dbp", "above"), [(130, 70, True), (129.9, 79.9, False), (110, 80, True)]
)
def test_24h_threshold_at_its_edge(settings, sbp, dbp, above) -> None:
    # Outside both fallback windows: the reading counts for 24 h only.
    abpm = summarise([R(at(1, 7), sbp, dbp)], settings).ambulatory
    assert abpm.above_24h_threshold is above
    assert abpm.above_awake_threshold is None


def _validity_recording(awake: int, asleep: int, artefacts: int) -> list[R]:
    readings = [R(at(1, 9) + timedelta(minutes=20 * i), 130, 80) for i in range(awake)]
    readings += [R(at(2, 1) + timedelta(minutes=30 * i), 115, 70) for i in range(asleep)]
    readings += [R(at(2, 6, 30) + timedelta(minutes=i), 262, 80) for i in range(artefacts)]
    return readings


@pytest.mark.parametrize(
    ("awake", "asleep", "artefacts", "valid"),
    [
        (20, 7, 0, True),
        (19, 7, 0, False),
        (20, 6, 0, False),
        (21, 7, 12, True),  # 28 of 40: exactly 70 %
        (20, 7, 12, False),  # 27 of 39: 69.2 %
    ],
)
def test_validity_at_its_edges(settings, awake, asleep, artefacts, valid) -> None:
    abpm = summarise(_validity_recording(awake, asleep, artefacts), settings).ambulatory
    assert abpm.valid is valid
    total = awake + asleep + artefacts
    assert abpm.valid_percent == pytest.approx(100 * (awake + asleep) / total)


def test_morning_surge_from_the_diary(settings) -> None:
    bed, rise = at(1, 23), at(2, 7)
    night = [(at(1, 23, 30), 120), (at(2, 1), 112), (at(2, 2), 104), (at(2, 3), 110),
             (at(2, 5), 116), (at(2, 6), 118)]  # fmt: skip
    morning = [(at(2, 7), 150), (at(2, 8), 146), (at(2, 8, 59), 152), (at(2, 9), 170)]
    readings = [R(t, s, 75) for t, s in night + morning]
    surge = summarise(readings, settings, [(bed, rise)]).ambulatory.morning_surge
    assert surge.rise_at == rise
    # Morning: readings in [07:00, 09:00) -> 150, 146, 152. Trough: 104 and its asleep
    # neighbours 112 and 110. Prewaking: asleep readings in [05:00, 07:00) -> 116, 118.
    assert surge.morning_systolic == pytest.approx(448 / 3)
    assert surge.sleep_trough == pytest.approx(448 / 3 - 326 / 3)
    assert surge.prewaking == pytest.approx(448 / 3 - 117)
    assert surge.exaggerated is False


def test_morning_surge_from_wake_flags_and_its_exaggerated_edge(settings) -> None:
    readings = [
        R(at(2, 4), 100, 60, awake=False),
        R(at(2, 5), 95, 60, awake=False),
        R(at(2, 6, 10), 150, 80, awake=True),  # the rise: first awake after the last asleep
        R(at(2, 7), 155, 80, awake=True),
    ]
    surge = summarise(readings, settings).ambulatory.morning_surge
    assert surge.rise_at == at(2, 6, 10)
    # Morning 152.5; trough: 95 and its asleep neighbour 100 -> 97.5; surge exactly 55.
    assert surge.sleep_trough == pytest.approx(55.0)
    assert surge.exaggerated is True
    # Prewaking: asleep readings in [04:10, 06:10) -> only the 95 at 05:00.
    assert surge.prewaking == pytest.approx(152.5 - 95)


@pytest.mark.parametrize(("second_morning", "exaggerated"), [(155.0, True), (154.8, False)])
def test_morning_surge_exaggerated_edge(settings, second_morning, exaggerated) -> None:
    readings = [
        R(at(2, 4), 100, 60, awake=False),
        R(at(2, 5), 95, 60, awake=False),
        R(at(2, 6, 10), 150, 80, awake=True),
        R(at(2, 7), second_morning, 80, awake=True),
    ]
    surge = summarise(readings, settings).ambulatory.morning_surge
    # Sleep-trough surge: (150 + x) / 2 - 97.5, i.e. 55.0 and 54.9 mmHg.
    assert surge.sleep_trough == pytest.approx((150 + second_morning) / 2 - 97.5)
    assert surge.exaggerated is exaggerated


def test_no_surge_without_a_rise_time(settings) -> None:
    surge = summarise([R(at(2, 3), 110, 60), R(at(2, 10), 150, 80)], settings)
    assert surge.ambulatory.morning_surge.rise_at is None
    assert surge.ambulatory.morning_surge.sleep_trough is None


def _home_week(day1_sbp: float, sbp: float, dbp: float, days: int = 7) -> list[R]:
    readings = []
    for day in range(days):
        value = day1_sbp if day == 0 else sbp
        for hour, minute in ((7, 0), (7, 2), (19, 0), (19, 2)):
            readings.append(R(at(day, hour, minute), value, dbp, setting="home"))
    return readings


def test_home_protocol_discards_day_one(settings) -> None:
    home = summarise(_home_week(180, 130, 80), settings).home
    assert home.first_day == DAY1
    assert [d.day for d in home.days] == [DAY1 + timedelta(days=n) for n in range(1, 7)]
    assert all((d.morning, d.evening) == (2, 2) for d in home.days)
    assert home.counted_readings == 24
    assert (home.systolic, home.diastolic) == (130, 80)
    assert home.hypertension is False  # day 1's 180 would have made it 137.1


@pytest.mark.parametrize(
    ("sbp", "dbp", "above"), [(135, 80, True), (134.9, 84.9, False), (120, 85, True)]
)
def test_home_threshold_at_its_edge(settings, sbp, dbp, above) -> None:
    assert summarise(_home_week(sbp, sbp, dbp), settings).home.hypertension is above


def test_home_needs_enough_days(settings) -> None:
    three = summarise(_home_week(150, 150, 95, days=4), settings).home
    assert len(three.days) == 3 and three.enough is True and three.hypertension is True
    two = summarise(_home_week(150, 150, 95, days=3), settings).home
    assert two.enough is False and two.hypertension is None and two.systolic == 150


def test_home_readings_after_day_seven_do_not_count(settings) -> None:
    home = summarise(_home_week(130, 130, 80, days=9), settings, days=9).home
    assert home.days[-1].day == DAY1 + timedelta(days=6)
    assert home.readings == 36 and home.counted_readings == 24


@pytest.mark.parametrize(
    ("sbp", "dbp", "grade"),
    [
        (119, 79, "normal"),
        (120, 70, "high_normal"),
        (110, 80, "high_normal"),
        (139, 89, "high_normal"),
        (140, 80, "grade1"),
        (130, 90, "grade1"),
        (159, 99, "grade1"),
        (160, 80, "grade2"),
        (130, 100, "grade2"),
        (179, 109, "grade2"),
        (180, 80, "grade3"),
        (130, 110, "grade3"),
    ],
)
def test_office_grade_at_its_edges(settings, sbp, dbp, grade) -> None:
    assert chinese_grade(sbp, dbp) == grade
    office = summarise([R(at(1, 10), sbp, dbp, setting="office")], settings).office
    assert office.grade == grade
    assert office.hypertension is (sbp >= 140 or dbp >= 90)


def _valid_abpm(awake_sbp: float, asleep_sbp: float) -> list[R]:
    readings = [R(at(1, 9) + timedelta(minutes=20 * i), awake_sbp, 78) for i in range(20)]
    readings += [R(at(2, 1) + timedelta(minutes=30 * i), asleep_sbp, 65) for i in range(7)]
    return readings


@pytest.mark.parametrize(
    ("office_sbp", "awake_sbp", "phenotype"),
    [
        (150, 125, "white_coat_hypertension"),
        (150, 140, "sustained_hypertension"),
        (130, 140, "masked_hypertension"),
        (130, 125, "normotension"),
    ],
)
def test_phenotype_from_office_and_ambulatory(settings, office_sbp, awake_sbp, phenotype) -> None:
    readings = [*_valid_abpm(awake_sbp, 110), R(at(0, 10), office_sbp, 80, setting="office")]
    body = summarise(readings, settings)
    assert body.ambulatory.valid is True
    assert (body.phenotype, body.phenotype_basis) == (phenotype, "ambulatory")


def test_phenotype_falls_back_to_home_and_needs_both_sides(settings) -> None:
    office = [R(at(0, 10), 150, 95, setting="office")]
    body = summarise(office + _home_week(128, 128, 80), settings)
    assert (body.phenotype, body.phenotype_basis) == ("white_coat_hypertension", "home")
    # Not enough out-of-office readings (an invalid ABPM): no phenotype.
    body = summarise([*office, R(at(1, 10), 140, 90)], settings)
    assert (body.phenotype, body.phenotype_basis) == (None, None)
    # Nocturnal hypertension alone makes the ABPM hypertensive (ESH 2023).
    body = summarise([R(at(0, 10), 130, 80, setting="office"), *_valid_abpm(125, 121)], settings)
    assert body.phenotype == "masked_hypertension"


def test_unlabelled_readings_are_read_as_the_setting_says(settings) -> None:
    office = settings.model_copy(update={"bp_unlabelled_setting": "office"})
    body = summarise([R(at(1, 10), 150, 95, setting=None)], office)
    assert (body.office.grade, body.ambulatory.readings) == ("grade1", 0)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.tuples(st.integers(80, 230), st.integers(45, 130), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_variability_matches_the_second_implementation(values) -> None:
    settings = Settings()
    readings = [
        R(at(1, 0) + timedelta(minutes=15 * i), float(s), float(min(d, s - 10)), awake=w)
        for i, (s, d, w) in enumerate(values)
    ]
    abpm = summarise(readings, settings).ambulatory.model_dump()
    kept = [r for r in readings if r.sbp - r.dbp <= 150]
    awake = [bool(r.awake) for r in kept]
    for part, mask in (
        ("awake", awake),
        ("asleep", [not a for a in awake]),
        ("all_day", [True] * len(kept)),
    ):
        expected = reference_stats([r.sbp for r in kept], mask)
        assert_stats(abpm[part]["systolic"], expected)
        if expected["arv"] is not None:
            assert expected["arv"] <= expected["sv"] + 1e-9  # a power-mean inequality


@hypothesis_settings(max_examples=80, deadline=None)
@given(awake=st.integers(90, 240), asleep=st.integers(90, 240))
def test_dipping_class_follows_the_night_to_day_ratio(awake, asleep) -> None:
    # Diastolic values the editing keeps: pulse pressure 40-120 mmHg.
    readings = [
        R(at(1, 10), awake, min(awake - 40, 120)),
        R(at(2, 3), asleep, min(asleep - 40, 120)),
    ]
    dip = summarise(readings, Settings())
    ratio = asleep / awake
    dipping = dip.ambulatory.systolic_dipping
    assert dipping is not None
    # Integers compared exactly: 10 * asleep against 8 or 9 times awake.
    expected = (
        "extreme_dipper"
        if 10 * asleep <= 8 * awake
        else "dipper"
        if 10 * asleep <= 9 * awake
        else "non_dipper"
        if asleep <= awake
        else "reverse"
    )
    assert dipping.pattern == expected
    assert dipping.ratio == pytest.approx(ratio)


@hypothesis_settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(30, 300), st.integers(20, 200)), min_size=1, max_size=40))
def test_editing_counts_match_the_rules(values) -> None:
    settings = Settings()
    readings = [R(at(1, 10) + timedelta(minutes=i), s, d) for i, (s, d) in enumerate(values)]
    body = summarise(readings, settings)
    expected = 0
    for sbp, dbp in values:
        if not (50 <= sbp <= 240 and 40 <= dbp <= 140 and dbp < sbp and 10 <= sbp - dbp <= 150):
            expected += 1
    assert body.editing.excluded == expected == sum(body.editing.reasons.values())
    assert body.ambulatory.valid_readings == len(values) - expected


@hypothesis_settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 23), st.integers(100, 200)),
        min_size=1,
        max_size=50,
    )
)
def test_home_mean_is_of_days_two_to_seven(values) -> None:
    settings = Settings()
    readings = [
        R(at(day, hour, n % 60), float(sbp), 80.0, setting="home")
        for n, (day, hour, sbp) in enumerate(values)
    ]
    home = summarise(readings, settings, days=10).home
    first = min(day for day, _, _ in values)
    counted = [sbp for day, _, sbp in values if 1 <= day - first <= 6]
    assert home.first_day == DAY1 + timedelta(days=first)
    assert home.counted_readings == len(counted)
    assert home.systolic == (pytest.approx(statistics.fmean(counted)) if counted else None)
    counted_days = {day for day, _, _ in values if 1 <= day - first <= 6}
    assert [d.day for d in home.days] == [DAY1 + timedelta(days=d) for d in sorted(counted_days)]
    for d in home.days:
        hours = [h for day, h, _ in values if DAY1 + timedelta(days=day) == d.day]
        assert (d.morning, d.evening) == (sum(h < 12 for h in hours), sum(h >= 12 for h in hours))


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    systolic=st.floats(min_value=0, max_value=320, allow_nan=False),
    diastolic=st.floats(min_value=0, max_value=220, allow_nan=False),
)
def test_the_panel_rule_and_the_summary_rule_agree(systolic: float, diastolic: float) -> None:
    # The doctor's panel screens in SQL with `plausible`; the summaries with `artefacts`.
    settings = Settings()
    reasons = artefacts(np.array([systolic]), np.array([diastolic]), settings)
    assert bool(plausible(systolic, diastolic, settings)) == (reasons[0] is None)
