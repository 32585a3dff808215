"""The strip analysis against NeuroKit2, an independent, maintained ECG toolbox: on strips its
ECGSYN model simulates (McSharry et al., IEEE Trans Biomed Eng 2003, a morphology not made by
these tests), our R peaks, heart rate and normalised RMSSD agree with NeuroKit2's own R-peak
detector and HRV indices."""

from __future__ import annotations

import neurokit2 as nk
import numpy as np
import pytest

from app.ecg.analysis import analyse
from tests.ecg.helpers import RATE, beats_at, irregular_beats

# Beats closer to a strip's ends than this are cut off; NeuroKit2 leaves them out.
EDGE_S = 0.5


def _theirs(millivolts: np.ndarray) -> np.ndarray:
    _, info = nk.ecg_peaks(millivolts, sampling_rate=RATE, method="neurokit")
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def _nrmssd(peaks: np.ndarray) -> float:
    hrv = nk.hrv_time(peaks, sampling_rate=RATE)
    return float(hrv["HRV_RMSSD"].iloc[0] / hrv["HRV_MeanNN"].iloc[0])


def _interior(peaks: np.ndarray, samples: int) -> np.ndarray:
    edge = EDGE_S * RATE
    return peaks[(peaks >= edge) & (peaks < samples - edge)]


@pytest.mark.parametrize(("heart_rate", "seed"), [(50, 1), (75, 2), (110, 3), (150, 4)])
def test_r_peaks_and_rate_agree_with_neurokit_on_ecgsyn_strips(heart_rate, seed) -> None:
    millivolts = nk.ecg_simulate(
        duration=30,
        sampling_rate=RATE,
        heart_rate=heart_rate,
        heart_rate_std=3,
        method="ecgsyn",
        noise=0.02,
        random_state=seed,
    )
    ours = analyse(np.asarray(millivolts) * 1000.0, RATE, 0.1, 8)
    theirs = _theirs(millivolts)
    # Every beat away from the ends is found by both, within 2 samples (4 ms) of each other.
    ours_inside = _interior(np.asarray(ours.r_peaks), millivolts.size)
    theirs_inside = _interior(theirs, millivolts.size)
    assert ours_inside.size == theirs_inside.size >= 30 * heart_rate / 60 - 3
    assert np.max(np.abs(ours_inside - theirs_inside)) <= 2
    their_rate = 60.0 / np.mean(np.diff(theirs) / RATE)
    assert ours.heart_rate_bpm == pytest.approx(their_rate, abs=1.0)
    assert ours.heart_rate_bpm == pytest.approx(heart_rate, abs=3.0)
    assert ours.nrmssd == pytest.approx(_nrmssd(theirs), abs=0.01)
    assert ours.irregular is False


def test_an_irregular_strip_agrees_with_neurokit_and_is_flagged() -> None:
    signal_uv = beats_at(irregular_beats(), 30.0)
    ours = analyse(signal_uv, RATE, 0.1, 8)
    theirs = _theirs(signal_uv / 1000.0)
    assert np.max(np.abs(np.asarray(ours.r_peaks) - theirs)) <= 2
    assert ours.nrmssd == pytest.approx(_nrmssd(theirs), abs=0.005)
    assert _nrmssd(theirs) > 0.1 and ours.irregular is True
