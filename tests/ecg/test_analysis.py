"""Heart rate, R peaks and RR irregularity against strips built with beats at known places."""

from __future__ import annotations

import numpy as np
import pytest

from app.ecg.analysis import analyse
from tests.ecg.helpers import RATE, beats_at, irregular_beats, regular_beats


@pytest.mark.parametrize("inverted", [False, True])
def test_r_peaks_are_the_known_beats_and_the_rate_follows(inverted: bool) -> None:
    beats = regular_beats(0.8)
    signal = beats_at(beats, 30.0)
    found = analyse(-signal if inverted else signal, RATE, 0.1, 8)
    expected = np.round(beats * RATE).astype(int)
    assert len(found.r_peaks) == expected.size
    assert np.max(np.abs(np.array(found.r_peaks) - expected)) <= 1
    # 0.8 s between beats: 75 bpm; every RR interval 800 ms within one sample (1.95 ms).
    assert found.heart_rate_bpm == pytest.approx(75.0, abs=0.2)
    assert np.allclose(found.rr_ms, 800.0, atol=1000 / RATE + 0.1)
    assert found.irregular is False


def test_irregular_rr_is_flagged_and_its_intervals_are_the_true_ones() -> None:
    beats = irregular_beats()
    found = analyse(beats_at(beats, 30.0), RATE, 0.1, 8)
    expected_rr = np.diff(np.round(beats * RATE)) / RATE * 1000
    assert len(found.rr_ms) == expected_rr.size
    assert np.max(np.abs(np.array(found.rr_ms) - expected_rr)) <= 2 * 1000 / RATE
    # Independent: normalised RMSSD of the true intervals, and the rate from their mean.
    true_rr = np.diff(beats) * 1000
    nrmssd = np.sqrt(np.mean(np.diff(true_rr) ** 2)) / true_rr.mean()
    assert found.nrmssd == pytest.approx(nrmssd, abs=0.01)
    assert found.heart_rate_bpm == pytest.approx(60000 / true_rr.mean(), abs=0.5)
    assert found.irregular is True


def test_the_threshold_decides_at_its_boundary() -> None:
    found = analyse(beats_at(irregular_beats(), 30.0), RATE, 0.1, 8)
    assert found.nrmssd is not None
    assert analyse(beats_at(irregular_beats(), 30.0), RATE, found.nrmssd, 8).irregular is False
    below = found.nrmssd - 0.0001
    assert analyse(beats_at(irregular_beats(), 30.0), RATE, below, 8).irregular is True


def test_too_few_intervals_are_not_judged_irregular() -> None:
    beats = np.array([0.5, 1.0, 2.2, 2.6, 4.0, 4.3, 6.0, 6.5, 8.8])
    found = analyse(beats_at(beats, 10.0), RATE, 0.1, 9)
    assert len(found.rr_ms) == 8 and found.nrmssd is not None and found.nrmssd > 0.1
    assert found.irregular is False
