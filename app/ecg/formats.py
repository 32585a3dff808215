"""The two shapes a strip arrives in, read into one `ParsedStrip`.

- A FHIR R4 Observation whose waveform is a SampledData (origin, period in ms, factor,
  dimensions 1, data), as a top-level `valueSampledData` or in a component coded with its lead
  (MDC 131329 MDC_ECG_ELEC_POTL_I ...); the device's rhythm in a component coded LOINC 8884-9.
- The Apple Watch ECG export, as the iPhone Health app writes it (Health > Export All Health
  Data > electrocardiograms/ecg_<date>.csv, English locale): `key,value` header lines (`Name`,
  `Date of Birth`, `Recorded Date` as `2026-05-30 16:32:18 -0700`, `Classification`,
  `Symptoms`, `Software Version`, `Device` like `"Watch6,2"`, `Sample Rate` as `512 hertz`),
  blank lines, `Lead,Lead I`, `Unit,µV`, a blank line, then one voltage per line. Locales with a
  decimal comma write `-265,868` unquoted.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from app.ecg.analysis import FloatArray
from app.errors import AppError, UnsupportedMediaType

StripSource = Literal["fhir", "apple_csv"]
LOINC = "http://loinc.org"
MDC = "urn:oid:2.16.840.1.113883.6.24"
RHYTHM_LOINC = "8884-9"
# MDC (IEEE 11073-10101) codes of the limb leads a single-lead wearable records.
LEADS_BY_MDC = {"131329": "I", "131330": "II", "131389": "III"}
MDC_BY_LEAD = {lead: code for code, lead in LEADS_BY_MDC.items()}
# Microvolts per unit the devices use.
UV_PER_UNIT = {"uV": 1.0, "µV": 1.0, "μV": 1.0, "mV": 1000.0, "V": 1_000_000.0}
# The device's rhythm classification, normalised: Apple's export texts and HealthKit's
# HKElectrocardiogram.Classification names, and the short codes themselves.
RHYTHMS = ("sinus", "af", "low_hr", "high_hr", "inconclusive", "poor_recording", "other")
_RHYTHM_NAMES = {
    "sinus rhythm": "sinus",
    "sinusrhythm": "sinus",
    "atrial fibrillation": "af",
    "atrialfibrillation": "af",
    "heart rate under 50": "low_hr",
    "low heart rate": "low_hr",
    "inconclusivelowheartrate": "low_hr",
    "heart rate over 120": "high_hr",
    "heart rate over 150": "high_hr",
    "high heart rate": "high_hr",
    "inconclusivehighheartrate": "high_hr",
    "inconclusive": "inconclusive",
    "inconclusiveother": "inconclusive",
    "poor recording": "poor_recording",
    "inconclusive: poor recording": "poor_recording",
    "inconclusivepoorreading": "poor_recording",
}


class StripUnreadable(AppError):
    """The body is not a strip in an accepted shape (the code says what is wrong)."""

    status = 422
    code = "ecg_file_unrecognised"


@dataclass(frozen=True)
class ParsedStrip:
    """One strip as uploaded: start time, rate, lead, samples (µV) and the device's words."""

    source: StripSource
    recorded_at: datetime  # aware
    rate_hz: float
    lead: str
    samples_uv: FloatArray
    rhythm: str | None
    rhythm_text: str | None
    device_model: str | None = None  # Apple: the watch's model identifier ("Watch6,2")
    device_id: uuid.UUID | None = None  # FHIR: Observation.device "Device/<id>"


def normalise_rhythm(text: str | None) -> str | None:
    """The normalised rhythm code of a device's classification text (None for none)."""
    if text is None or not text.strip():
        return None
    name = text.strip()
    if name in RHYTHMS:
        return name
    return _RHYTHM_NAMES.get(name.lower(), "other")


def _aware(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise StripUnreadable("ecg_time_invalid") from None
    if moment.tzinfo is None:
        raise StripUnreadable("ecg_time_invalid")
    return moment


# --- FHIR Observation with SampledData ---------------------------------------------------


class _Fhir(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Coding(_Fhir):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class _Concept(_Fhir):
    coding: list[_Coding] = []
    text: str | None = None


class _Quantity(_Fhir):
    value: float = 0.0
    unit: str | None = None
    code: str | None = None


class _SampledData(_Fhir):
    origin: _Quantity
    period: float
    factor: float = 1.0
    dimensions: int
    data: str | None = None


class _Component(_Fhir):
    code: _Concept
    valueSampledData: _SampledData | None = None
    valueCodeableConcept: _Concept | None = None
    valueString: str | None = None


class _Period(_Fhir):
    start: str


class _Reference(_Fhir):
    reference: str | None = None


class _Observation(_Fhir):
    resourceType: Literal["Observation"]
    effectiveDateTime: str | None = None
    effectivePeriod: _Period | None = None
    valueSampledData: _SampledData | None = None
    component: list[_Component] = []
    device: _Reference | None = None


def _lead_of(concept: _Concept) -> str:
    for coding in concept.coding:
        if coding.code in LEADS_BY_MDC:
            return LEADS_BY_MDC[coding.code]
    for coding in concept.coding:
        name = coding.display or ""
        if name.startswith("MDC_ECG_ELEC_POTL_"):
            return name.removeprefix("MDC_ECG_ELEC_POTL_")[:16]
    text = (concept.text or "").removeprefix("Lead ").strip()
    return text[:16] or "I"


def _is_rhythm(concept: _Concept) -> bool:
    return any(c.code == RHYTHM_LOINC for c in concept.coding)


def _rhythm_text(component: _Component) -> str | None:
    if component.valueString:
        return component.valueString
    concept = component.valueCodeableConcept
    if concept is None:
        return None
    codes = [c.code for c in concept.coding if c.code]
    return concept.text or (codes[0] if codes else None)


def _sampled_values(sampled: _SampledData) -> FloatArray:
    if sampled.dimensions != 1:
        raise StripUnreadable("ecg_not_single_lead")
    unit = sampled.origin.code or sampled.origin.unit or ""
    scale = UV_PER_UNIT.get(unit)
    if scale is None:
        raise StripUnreadable("ecg_unit_unsupported", unit=unit)
    try:
        data = np.array((sampled.data or "").split(), dtype=np.float64)
    except ValueError:
        # "E", "L" and "U" (error, below and above the detection limits) are not samples.
        raise StripUnreadable("ecg_samples_invalid") from None
    if data.size == 0 or not np.isfinite(data).all():
        raise StripUnreadable("ecg_samples_invalid")
    values: FloatArray = (sampled.origin.value + sampled.factor * data) * scale
    return values


def parse_fhir(body: bytes) -> ParsedStrip:
    """A FHIR R4 Observation carrying one lead as SampledData."""
    try:
        observation = _Observation.model_validate_json(body)
    except ValidationError:
        raise StripUnreadable() from None
    waveform = [c for c in observation.component if c.valueSampledData is not None]
    sampled: _SampledData | None
    if observation.valueSampledData is not None:
        sampled, lead = observation.valueSampledData, "I"
        if waveform:
            raise StripUnreadable("ecg_not_single_lead")
    elif len(waveform) == 1:
        sampled, lead = waveform[0].valueSampledData, _lead_of(waveform[0].code)
    elif waveform:
        raise StripUnreadable("ecg_not_single_lead")
    else:
        raise StripUnreadable()
    assert sampled is not None
    if sampled.period <= 0:
        raise StripUnreadable("ecg_samples_invalid")
    start = observation.effectiveDateTime or (
        observation.effectivePeriod.start if observation.effectivePeriod else None
    )
    if start is None:
        raise StripUnreadable("ecg_time_invalid")
    rhythm_text = next((_rhythm_text(c) for c in observation.component if _is_rhythm(c.code)), None)
    device_id = None
    reference = observation.device.reference if observation.device else None
    if reference and reference.startswith("Device/"):
        try:
            device_id = uuid.UUID(reference.removeprefix("Device/"))
        except ValueError:
            device_id = None
    return ParsedStrip(
        source="fhir",
        recorded_at=_aware(start),
        rate_hz=1000.0 / sampled.period,
        lead=lead,
        samples_uv=_sampled_values(sampled),
        rhythm=normalise_rhythm(rhythm_text),
        rhythm_text=rhythm_text[:80] if rhythm_text else None,
        device_id=device_id,
    )


# --- Apple Watch ECG export (CSV) ---------------------------------------------------------

_SAMPLE = re.compile(r"^-?\d+(?:[.,]\d+)?$")


def _apple_header(lines: list[str]) -> dict[str, str]:
    header: dict[str, str] = {}
    for row in csv.reader(io.StringIO("\n".join(lines))):
        if row and row[0].strip():
            header[row[0].strip()] = ",".join(row[1:]).strip()
    return header


def parse_apple_csv(body: bytes) -> ParsedStrip:
    """An Apple Watch ECG export (see the module's docstring)."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StripUnreadable() from None
    lines = text.splitlines()
    first = next((n for n, line in enumerate(lines) if _SAMPLE.match(line.strip())), len(lines))
    header = _apple_header(lines[:first])
    if "Recorded Date" not in header or "Sample Rate" not in header:
        raise StripUnreadable()
    try:
        recorded_at = datetime.strptime(header["Recorded Date"], "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        raise StripUnreadable("ecg_time_invalid") from None
    rate_match = re.match(r"^\s*(\d+(?:[.,]\d+)?)\s*hertz\s*$", header["Sample Rate"], re.I)
    if rate_match is None:
        raise StripUnreadable()
    unit = header.get("Unit", "µV")
    scale = UV_PER_UNIT.get(unit)
    if scale is None:
        raise StripUnreadable("ecg_unit_unsupported", unit=unit)
    samples = [line.strip() for line in lines[first:] if line.strip()]
    if not samples or not all(_SAMPLE.match(s) for s in samples):
        raise StripUnreadable("ecg_samples_invalid")
    values = np.array([s.replace(",", ".") for s in samples], dtype=np.float64) * scale
    classification = header.get("Classification") or None
    return ParsedStrip(
        source="apple_csv",
        recorded_at=recorded_at,
        rate_hz=float(rate_match.group(1).replace(",", ".")),
        lead=header.get("Lead", "Lead I").removeprefix("Lead ").strip()[:16] or "I",
        samples_uv=values,
        rhythm=normalise_rhythm(classification),
        rhythm_text=classification[:80] if classification else None,
        device_model=header.get("Device") or None,
    )


def parse(content_type: str | None, body: bytes) -> ParsedStrip:
    """The strip in a body: FHIR JSON by its media type, else the Apple CSV export."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ("application/fhir+json", "application/json"):
        return parse_fhir(body)
    if media in ("text/csv", "text/plain", "application/octet-stream", ""):
        return parse_apple_csv(body)
    raise UnsupportedMediaType()
