"""Synthetic strips with beats at known positions, written as the devices write them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

RATE = 512  # Apple Watch


def beats_at(times_s: np.ndarray, seconds: float, rate: int = RATE, seed: int = 7) -> np.ndarray:
    """A lead-I-like strip (µV): P, QRS and T waves around each R peak at `times_s`, baseline
    wander and noise. The R peaks are where the returned samples peak."""
    t = np.arange(round(seconds * rate)) / rate
    x = np.zeros_like(t)
    for beat in times_s:
        x += 1000 * np.exp(-(((t - beat) / 0.012) ** 2) / 2)  # R
        x -= 150 * np.exp(-(((t - beat - 0.03) / 0.01) ** 2) / 2)  # S
        x += 120 * np.exp(-(((t - beat + 0.16) / 0.025) ** 2) / 2)  # P
        x += 300 * np.exp(-(((t - beat - 0.3) / 0.05) ** 2) / 2)  # T
    x += 150 * np.sin(2 * np.pi * 0.3 * t) + np.random.default_rng(seed).normal(0, 15, t.size)
    return np.round(x, 3)


def regular_beats(rr_s: float = 0.8, seconds: float = 30.0) -> np.ndarray:
    """Beat times of a regular rhythm at 60 / rr_s bpm."""
    return np.arange(0.5, seconds - 0.5, rr_s)


def irregular_beats(seconds: float = 30.0, seed: int = 3) -> np.ndarray:
    """Beat times with RR drawn uniformly from 0.45-1.1 s (irregularly irregular, like AF)."""
    rr = np.random.default_rng(seed).uniform(0.45, 1.1, int(seconds * 3))
    beats = 0.5 + np.concatenate([[0.0], np.cumsum(rr)])
    return beats[beats < seconds - 0.5]


def apple_csv(
    samples_uv: np.ndarray,
    recorded: datetime,
    classification: str = "Sinus Rhythm",
    device: str = "Watch6,2",
    decimal_comma: bool = False,
) -> bytes:
    """The file the iPhone Health app exports for one Apple Watch ECG (English locale):
    electrocardiograms/ecg_<date>.csv."""
    header = [
        "Name,Li Wei",
        'Date of Birth,"Mar 4, 1961"',
        f"Recorded Date,{recorded.strftime('%Y-%m-%d %H:%M:%S %z')}",
        f"Classification,{classification}",
        "Symptoms,",
        "Software Version,2",
        f'Device,"{device}"',
        "Sample Rate,512 hertz",
        "",
        "",
        "Lead,Lead I",
        "Unit,µV",
        "",
    ]
    values = [f"{v:.3f}" for v in samples_uv]
    if decimal_comma:
        values = [v.replace(".", ",") for v in values]
    return ("\n".join(header + values) + "\n").encode()


def fhir_strip(
    samples_uv: np.ndarray,
    recorded: datetime,
    rhythm: str | None = None,
    rate: int = RATE,
    device_id: str | None = None,
) -> dict[str, Any]:
    """A FHIR R4 Observation carrying lead I as SampledData (millivolts, factor 0.001)."""
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "11524-6"}]},
        "effectiveDateTime": recorded.isoformat(),
        "component": [
            {
                "code": {
                    "coding": [
                        {
                            "system": "urn:oid:2.16.840.1.113883.6.24",
                            "code": "131329",
                            "display": "MDC_ECG_ELEC_POTL_I",
                        }
                    ]
                },
                "valueSampledData": {
                    "origin": {"value": 0, "unit": "mV", "code": "mV"},
                    "period": 1000 / rate,
                    "factor": 0.001,
                    "dimensions": 1,
                    "data": " ".join(str(round(v)) for v in samples_uv),
                },
            }
        ],
    }
    if rhythm:
        body["component"].append(
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8884-9"}]},
                "valueCodeableConcept": {"text": rhythm},
            }
        )
    if device_id:
        body["device"] = {"reference": f"Device/{device_id}"}
    return body
