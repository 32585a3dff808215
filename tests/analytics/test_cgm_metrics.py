"""CGM metrics against hand-computed values and a second implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.analytics import cgm
from tests.analytics import reference


def _summary(times_min, values, interval_min=5, period_seconds=None):
    times = np.array(times_min, dtype=float) * 60
    vals = np.array(values, dtype=float)
    spans = cgm.weights(times, np.full(times.size, interval_min * 60.0))
    total = cgm.accumulate(vals, spans)
    period = period_seconds if period_seconds is not None else float(spans.sum())
    return cgm.metrics(total, period, 14), spans


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (53, "very_low"),
        (54, "low"),
        (69, "low"),
        (70, "in_range"),
        (180, "in_range"),
        (181, "high"),
        (250, "high"),
        (251, "very_high"),
        # The mmol/L table's edges, converted (x 18.016): 2.9, 3.0, 3.8, 3.9, 10.0, 10.1, 13.9, 14.0
        (52.25, "very_low"),
        (54.05, "low"),
        (68.46, "low"),
        (70.26, "in_range"),
        (180.16, "in_range"),
        (181.96, "high"),
        (250.42, "high"),
        (252.22, "very_high"),
    ],
)
def test_boundary_values_fall_in_their_consensus_band(value: float, band: str) -> None:
    assert cgm.BANDS[int(cgm.band_index(np.array([value]))[0])] == band
    assert reference.band_of(value) == band


def test_hand_computed_series() -> None:
    # 100, 200, 50, 300 mg/dL at 0, 5, 10 and 25 minutes from a 5-minute device: the 15-minute
    # gap counts 5 minutes for the reading before it.
    metrics, spans = _summary([0, 5, 10, 25], [100, 200, 50, 300], period_seconds=3600)
    assert list(spans) == [300, 300, 300, 300]
    assert metrics.band_percent == {
        "very_low": 25.0,
        "low": 0.0,
        "in_range": 25.0,
        "high": 25.0,
        "very_high": 25.0,
    }
    assert metrics.active_percent == pytest.approx(100 * 1200 / 3600)
    assert metrics.mean_mg_dl == pytest.approx(162.5)
    assert metrics.sd_mg_dl == pytest.approx(math.sqrt(36875 / 3))
    assert metrics.cv_percent == pytest.approx(100 * math.sqrt(36875 / 3) / 162.5)
    assert metrics.gmi_percent == pytest.approx(3.31 + 0.02392 * 162.5)
    assert metrics.mean_mmol_l == pytest.approx(162.5 / 18.016)


def test_sufficiency_needs_14_days_and_70_percent() -> None:
    total = cgm.Accumulator(readings=10, value_sum=1000, squared_deviations=500)
    total.covered_seconds = 0.70 * 14 * 86400
    assert cgm.metrics(total, 14 * 86400, 14).sufficient
    total.covered_seconds = 0.69 * 14 * 86400
    assert not cgm.metrics(total, 14 * 86400, 14).sufficient
    total.covered_seconds = 13 * 86400
    assert not cgm.metrics(total, 13 * 86400, 13).sufficient


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 30), st.floats(40, 400, allow_nan=False)),
        min_size=2,
        max_size=60,
    ),
    st.sampled_from([1, 5, 15]),
)
def test_time_in_bands_matches_a_timeline_sweep(steps, interval) -> None:
    times, t = [], 0
    for gap, _ in steps:
        t += gap
        times.append(t * 60)
    values = [v for _, v in steps]
    expected, covered = reference.time_in_bands(times, values, [interval * 60] * len(times))
    spans = cgm.weights(np.array(times, float), np.full(len(times), interval * 60.0))
    total = cgm.accumulate(np.array(values), spans)
    got = cgm.metrics(total, covered, 14)
    assert total.covered_seconds == pytest.approx(covered)
    for band in cgm.BANDS:
        assert got.band_percent[band] == pytest.approx(expected[band], abs=1e-9)
    assert got.sd_mg_dl == pytest.approx(reference.sample_sd(values), rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(40, 400, allow_nan=False), min_size=4, max_size=40))
def test_1_5_and_15_minute_devices_agree(block_values) -> None:
    # Glucose constant over 15-minute blocks, seen by three devices sampling at their rates.
    def seen_every(minutes: int):
        times = np.arange(0, len(block_values) * 15, minutes, dtype=float) * 60
        values = np.array([block_values[int(t // 900)] for t in times])
        spans = cgm.weights(times, np.full(times.size, minutes * 60.0))
        return cgm.metrics(cgm.accumulate(values, spans), len(block_values) * 900.0, 14)

    one, five, fifteen = seen_every(1), seen_every(5), seen_every(15)
    for band in cgm.BANDS:
        assert one.band_percent[band] == pytest.approx(five.band_percent[band])
        assert one.band_percent[band] == pytest.approx(fifteen.band_percent[band])
    assert one.active_percent == pytest.approx(100.0)
    assert fifteen.active_percent == pytest.approx(100.0)


def test_day_accumulators_add_up_to_the_whole() -> None:
    rng = np.random.default_rng(7)
    values = rng.uniform(40, 400, 500)
    spans = rng.uniform(60, 300, 500)
    whole = cgm.accumulate(values, spans)
    parts = cgm.Accumulator()
    for chunk in np.array_split(np.arange(500), 7):
        parts.add(cgm.accumulate(values[chunk], spans[chunk]))
    a, b = cgm.metrics(whole, 1e6, 14), cgm.metrics(parts, 1e6, 14)
    assert a.mean_mg_dl == pytest.approx(b.mean_mg_dl)
    assert a.sd_mg_dl == pytest.approx(b.sd_mg_dl)
    assert a.band_percent == pytest.approx(b.band_percent)


def _episodes(values, minutes=5):
    times = np.arange(len(values), dtype=float) * minutes * 60
    vals = np.array(values, dtype=float)
    spans = cgm.weights(times, np.full(len(values), minutes * 60.0))
    return cgm.episodes(times, vals, spans)


def test_hypo_episode_needs_15_minutes() -> None:
    assert [e.kind for e in _episodes([100, 60, 60, 100, 100])] == []  # 10 minutes
    found = _episodes([100, 60, 60, 60, 100, 100])
    assert [(e.kind, e.minutes, e.extreme_mg_dl) for e in found] == [("hypo_level1", 15.0, 60.0)]


def test_short_recovery_does_not_split_an_episode() -> None:
    # 15 min low, 10 min back in range, 15 min low: one episode of 30 minutes below.
    merged = _episodes([60, 60, 60, 100, 100, 60, 60, 60, 100, 100, 100])
    assert [(e.kind, e.minutes) for e in merged] == [("hypo_level1", 30.0)]
    # 15 min back in range splits it.
    split = _episodes([60, 60, 60, 100, 100, 100, 60, 60, 60, 100, 100, 100])
    assert [(e.kind, e.minutes) for e in split] == [("hypo_level1", 15.0)] * 2


def test_level2_and_hyper_episodes() -> None:
    # >250 for 15 minutes inside 30 minutes >180.
    found = _episodes([50, 50, 50, 100, 100, 100, 260, 260, 260, 200, 200, 200, 100, 100, 100])
    kinds = sorted((e.kind, e.minutes) for e in found)
    assert kinds == [
        ("hyper_level1", 30.0),
        ("hyper_level2", 15.0),
        ("hypo_level1", 15.0),
        ("hypo_level2", 15.0),
    ]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 1439.99), st.floats(40, 400, allow_nan=False)),
        min_size=1,
        max_size=300,
    )
)
def test_agp_percentiles_match_a_reference(points) -> None:
    minutes = np.array([m for m, _ in points])
    values = np.array([v for _, v in points])
    centers, got = cgm.agp(minutes, values)
    for i, center in enumerate(centers):
        window = reference.agp_window(minutes.tolist(), values.tolist(), center)
        if not window:
            assert np.isnan(got[i]).all()
            continue
        expected = [reference.percentile(window, p) for p in cgm.PERCENTILES]
        assert got[i] == pytest.approx(expected)
