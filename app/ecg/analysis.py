"""Heart rate, R-R intervals and RR irregularity of a single-lead strip (scipy.signal).

R peaks are found the Pan-Tompkins way (Pan & Tompkins, IEEE Trans Biomed Eng 1985): a 5-15 Hz
band-pass keeps the QRS energy, the squared derivative integrated over 150 ms gives one hump per
beat, humps at least 250 ms apart and above a fraction of the strip's typical beat energy are
beats, and each R peak is the largest deflection of the 0.5-40 Hz signal within 100 ms of its
hump. scipy.signal does the filtering and the peak search. (neurokit2 implements the same and
more, but brings pandas and scikit-learn into the service for these few lines; the tests
check these R peaks, rates and nRMSSD against it, tests/ecg/test_against_neurokit.py.)

Irregularity: normalised RMSSD of the RR series, RMSSD / mean RR, above 0.1 suggests atrial
fibrillation (Dash et al., Ann Biomed Eng 2009, "Automatic real time detection of atrial
fibrillation"); the threshold is a setting. It is judged only with enough intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, find_peaks, sosfiltfilt

FloatArray = NDArray[np.float64]

QRS_BAND_HZ = (5.0, 15.0)
DISPLAY_BAND_HZ = (0.5, 40.0)
INTEGRATION_S = 0.150
REFRACTORY_S = 0.250  # no two beats closer: 240 bpm at most
REFINE_S = 0.100
# A hump is a beat when it reaches this fraction of the 90th percentile of hump heights.
BEAT_FRACTION = 0.3


@dataclass(frozen=True)
class StripAnalysis:
    """What the strip says: R peaks (sample positions), RR intervals (ms), mean heart rate
    (bpm, from the mean RR) and the RR irregularity."""

    r_peaks: list[int]
    rr_ms: list[float]
    heart_rate_bpm: float | None
    nrmssd: float | None
    irregular: bool


def _band(signal: FloatArray, rate: float, low: float, high: float) -> FloatArray:
    # Zero-phase: the peaks stay where they are. The upper edge stays below Nyquist.
    high = min(high, 0.45 * rate)
    sos = butter(3, [low, high], btype="bandpass", fs=rate, output="sos")
    filtered: FloatArray = sosfiltfilt(sos, signal)
    return filtered


def display_signal(signal_uv: FloatArray, rate: float) -> FloatArray:
    """The strip as a monitor shows it: 0.5-40 Hz, baseline wander removed, in millivolts."""
    return _band(signal_uv, rate, *DISPLAY_BAND_HZ) / 1000.0


def r_peaks(signal_uv: FloatArray, rate: float) -> list[int]:
    """Sample positions of the R peaks of a single-lead strip sampled at `rate` Hz."""
    qrs = _band(signal_uv, rate, *QRS_BAND_HZ)
    energy = np.gradient(qrs) ** 2
    width = max(1, round(INTEGRATION_S * rate))
    integrated = np.convolve(energy, np.ones(width) / width, mode="same")
    humps, props = find_peaks(integrated, distance=max(1, round(REFRACTORY_S * rate)), height=0)
    if humps.size == 0:
        return []
    heights = props["peak_heights"]
    beats = humps[heights >= BEAT_FRACTION * np.percentile(heights, 90)]
    display = display_signal(signal_uv, rate)
    # The R wave is the QRS's largest deflection, upward or (an inverted lead) downward.
    sign = 1.0 if np.median(display[beats]) >= 0 else -1.0
    reach = round(REFINE_S * rate)
    peaks: list[int] = []
    for beat in beats:
        start, stop = max(0, beat - reach), min(display.size, beat + reach + 1)
        peak = int(start + np.argmax(sign * display[start:stop]))
        if not peaks or peak - peaks[-1] >= REFRACTORY_S * rate:
            peaks.append(peak)
    return peaks


def rr_intervals_ms(peaks: list[int], rate: float) -> list[float]:
    """R-R intervals (ms, 0.1 ms) between consecutive R peaks at sample positions `peaks`."""
    rr = np.diff(np.asarray(peaks, dtype=np.float64)) / rate * 1000.0
    return [round(float(v), 1) for v in rr]


def analyse(
    signal_uv: FloatArray, rate: float, irregular_nrmssd: float, min_intervals: int
) -> StripAnalysis:
    """R peaks, RR intervals, heart rate and irregularity of a strip."""
    peaks = r_peaks(signal_uv, rate)
    rr = np.asarray(rr_intervals_ms(peaks, rate), dtype=np.float64)
    if rr.size == 0:
        return StripAnalysis(peaks, [], None, None, irregular=False)
    mean_rr = float(rr.mean())
    nrmssd = None
    if rr.size >= 2:
        nrmssd = float(np.sqrt(np.mean(np.diff(rr) ** 2)) / mean_rr)
    irregular = rr.size >= min_intervals and nrmssd is not None and nrmssd > irregular_nrmssd
    return StripAnalysis(
        r_peaks=peaks,
        rr_ms=[float(v) for v in rr],
        heart_rate_bpm=round(60_000.0 / mean_rr, 1),
        nrmssd=None if nrmssd is None else round(nrmssd, 4),
        irregular=irregular,
    )
