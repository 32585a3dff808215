"""A stored strip as a FHIR R4 Observation: the waveform as SampledData, with LOINC codes.

- code: LOINC 11524-6 "EKG study", and MDC 131328 MDC_ECG_ELEC_POTL (IEEE 11073-10101).
- component: the lead's waveform (MDC 131329 MDC_ECG_ELEC_POTL_I for lead I ...) as SampledData
  with origin 0 uV, period in ms, factor 1, dimensions 1 and the samples in µV (shortest
  round-tripping decimals, so the export reproduces the stored samples exactly); heart rate
  (LOINC 8867-4, /min); mean R-R interval (LOINC 8637-1 "R-R interval by EKG", ms); the device's
  rhythm classification (LOINC 8884-9 "Heart rate rhythm", in this service's code system, with
  the device's words as text).
- interpretation: A (abnormal) when the strip suggests atrial fibrillation.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import numpy as np

from app.analytics.fhir import (
    EXPORT_NAMESPACE,
    LOINC,
    RHYTHM_SYSTEM,
    UCUM,
    category,
    coding,
    iso,
    quantity,
)
from app.ecg.analysis import FloatArray, rr_intervals_ms
from app.ecg.formats import MDC, MDC_BY_LEAD
from app.models import EcgStrip

INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


def _data(samples_uv: FloatArray) -> str:
    return " ".join(np.format_float_positional(v, trim="-") for v in samples_uv)


def _waveform(strip: EcgStrip, samples_uv: FloatArray) -> dict[str, Any]:
    code = MDC_BY_LEAD.get(strip.lead)
    lead = (
        coding(code, f"MDC_ECG_ELEC_POTL_{strip.lead}", MDC)
        if code
        else {"text": f"Lead {strip.lead}"}
    )
    return {
        "code": lead,
        "valueSampledData": {
            "origin": {"value": 0, "unit": "uV", "system": UCUM, "code": "uV"},
            "period": 1000.0 / strip.sampling_rate_hz,
            "factor": 1,
            "dimensions": 1,
            "data": _data(samples_uv),
        },
    }


def strip_observation(
    strip: EcgStrip, samples_uv: FloatArray, subject: dict[str, str]
) -> dict[str, Any]:
    """The Observation of a strip about `subject` (a Reference)."""
    end = strip.recorded_at + timedelta(seconds=strip.sample_count / strip.sampling_rate_hz)
    ecg_code = coding("11524-6", "EKG study")
    ecg_code["coding"].append({"system": MDC, "code": "131328", "display": "MDC_ECG_ELEC_POTL"})
    components = [_waveform(strip, samples_uv)]
    if strip.heart_rate_bpm is not None:
        components.append(
            {
                "code": coding("8867-4", "Heart rate"),
                "valueQuantity": quantity(strip.heart_rate_bpm, "/min"),
            }
        )
    rr = rr_intervals_ms(list(strip.r_peaks), strip.sampling_rate_hz)
    if rr:
        mean = {"value": round(sum(rr) / len(rr), 1), "unit": "ms", "system": UCUM, "code": "ms"}
        components.append({"code": coding("8637-1", "R-R interval by EKG"), "valueQuantity": mean})
    if strip.device_rhythm is not None:
        concept = coding(strip.device_rhythm, strip.device_rhythm.replace("_", " "), RHYTHM_SYSTEM)
        if strip.device_rhythm_text:
            concept["text"] = strip.device_rhythm_text
        components.append(
            {"code": coding("8884-9", "Heart rate rhythm", LOINC), "valueCodeableConcept": concept}
        )
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(EXPORT_NAMESPACE, f"ecg/{strip.id}")),
        "status": "final",
        "category": category("procedure"),
        "code": ecg_code,
        "subject": subject,
        "effectivePeriod": {"start": iso(strip.recorded_at), "end": iso(end)},
        "device": {"display": f"device {strip.device_id}"},
        "component": components,
    }
    if strip.possible_af:
        body["interpretation"] = [
            coding("A", "Abnormal", INTERPRETATION)
            | {"text": "Irregular rhythm: possible atrial fibrillation"}
        ]
    return body
