"""A patient's readings and CGM summary as a FHIR R4 Bundle of Observations (LOINC-coded).

The CGM parts follow the HL7 CGM implementation guide (http://hl7.org/fhir/uv/cgm/, STU 1):
- each CGM reading (sensor or scan) is a "CGM Sensor Reading (Mass)": LOINC 99504-3, mg/dL;
- the summary is a "CGM Summary Observation" (LOINC 107931-8) whose `hasMember` references the
  mean glucose (97507-8 mg/dL, 105273-7 mmol/L), the times in ranges (106793-3, with the five
  bands as LOINC components 104642-4 / 104641-6 / 97510-2 / 104640-8 / 104639-0), GMI
  (97506-0), CV (104638-2), days of wear (104636-6, in days) and sensor active percentage
  (104637-4); every one carries `meta.profile` and the reporting period as local dates;
- a period without enough CGM data for the guide's required members (mean, GMI, CV need two
  readings) exports no summary at all rather than zeros.
Blood pressure follows the FHIR vital-signs profiles: the BP panel (85354-9) and the pulse
recorded with it as its own heart-rate Observation (8867-4).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from app.analytics.schemas import CgmSummaryOut
from app.kit.clock import utcnow
from app.models import Reading

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# Names the deterministic ids of exported resources (a re-export gives the same ids).
EXPORT_NAMESPACE = uuid.UUID("6b1f3c52-3d0e-4c1a-9a53-2b7f4f9e8a10")
# ECG rhythm classifications as devices give them (sinus, af, low_hr, high_hr, inconclusive,
# poor_recording, other): ECG summaries' `rhythm` and strips' device classification.
RHYTHM_SYSTEM = "https://chronic-care.cn/fhir/CodeSystem/ecg-rhythm"

CGM_PROFILE = "http://hl7.org/fhir/uv/cgm/StructureDefinition/"
VITAL_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
# The guide's LOINC codes for the five consensus bands (TimeInVeryLow ... TimeInVeryHigh).
BAND_LOINC = {
    "very_low": "104642-4",
    "low": "104641-6",
    "in_range": "97510-2",
    "high": "104640-8",
    "very_high": "104639-0",
}
# The guide's fixed quantities: UCUM code and the `unit` text its patterns carry.
MG_DL = ("mg/dL", "mg/dl")
MMOL_L = ("mmol/L", "mmol/l")
PERCENT = ("%", "%")
DAYS = ("d", "days")


def coding(code: str, display: str, system: str = LOINC) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def quantity(value: float, unit: str) -> dict[str, Any]:
    code = {"mmHg": "mm[Hg]", "/min": "/min", "%": "%"}.get(unit, unit)
    return {"value": round(value, 2), "unit": unit, "system": UCUM, "code": code}


def category(code: str) -> list[dict[str, Any]]:
    return [coding(code, code.replace("-", " ").title(), CATEGORY)]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _guide_quantity(value: float, unit: tuple[str, str]) -> dict[str, Any]:
    """A Quantity as the CGM guide's patterns fix it (UCUM code plus their `unit` text)."""
    code, text = unit
    return {"value": round(value, 2), "unit": text, "system": UCUM, "code": code}


def _loinc(code: str, text: str) -> dict[str, Any]:
    """A LOINC concept as the guide's examples give it (system and code; the label as text)."""
    return {"coding": [{"system": LOINC, "code": code}], "text": text}


def _reading_id(reading: Reading, kind: str) -> str:
    key = f"{reading.device_id}/{kind}/{iso(reading.measured_at)}"
    return str(uuid.uuid5(EXPORT_NAMESPACE, key))


def _reading_observation(reading: Reading, subject: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _reading_id(reading, reading.kind),
        "status": "final",
        "subject": subject,
        "effectiveDateTime": iso(reading.measured_at),
        "device": {"display": f"device {reading.device_id}"},
    }
    if reading.kind in ("cgm", "scan"):
        body |= {
            "meta": {"profile": [CGM_PROFILE + "cgm-sensor-reading-mass-per-volume"]},
            "category": category("laboratory"),
            "code": _loinc("99504-3", "Glucose [Mass/volume] in Interstitial fluid"),
            "valueQuantity": _guide_quantity(reading.value, MG_DL),
        }
    elif reading.kind == "bg":
        body |= {
            "category": category("laboratory"),
            "code": coding("2339-0", "Glucose [Mass/volume] in Blood"),
            "valueQuantity": quantity(reading.value, "mg/dL"),
        }
    elif reading.kind == "bp":
        diastolic: dict[str, Any] = (
            {"valueQuantity": quantity(reading.value2, "mmHg")}
            if reading.value2 is not None
            else {"dataAbsentReason": coding("unknown", "Unknown", DATA_ABSENT)}
        )
        body |= {
            "meta": {"profile": [VITAL_PROFILE + "bp"]},
            "category": category("vital-signs"),
            "code": coding("85354-9", "Blood pressure panel with all children optional"),
            "component": [
                {
                    "code": coding("8480-6", "Systolic blood pressure"),
                    "valueQuantity": quantity(reading.value, "mmHg"),
                },
                {"code": coding("8462-4", "Diastolic blood pressure"), **diastolic},
            ],
        }
    else:  # hr, and the mean rate of an ECG summary
        body |= {
            "category": category("vital-signs"),
            "code": coding("8867-4", "Heart rate"),
            "valueQuantity": quantity(reading.value, "/min"),
        }
        if reading.kind == "hr":
            body["meta"] = {"profile": [VITAL_PROFILE + "heartrate"]}
        if reading.kind == "ecg" and reading.label:
            # The device's rhythm classification (e.g. "af") travels with the rate.
            body["component"] = [
                {
                    "code": coding("8884-9", "Heart rate rhythm"),
                    "valueCodeableConcept": coding(
                        reading.label, reading.label.replace("_", " "), RHYTHM_SYSTEM
                    ),
                }
            ]
    if reading.flag:
        body["interpretation"] = [
            coding(
                "L" if reading.flag == "low" else "H",
                "Below sensor range" if reading.flag == "low" else "Above sensor range",
                "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
            )
        ]
    return body


def _bp_pulse_observation(reading: Reading, subject: dict[str, str]) -> dict[str, Any] | None:
    """The pulse a BP monitor recorded with the reading, as a vital-signs heart rate."""
    if reading.kind != "bp" or reading.value3 is None:
        return None
    return {
        "resourceType": "Observation",
        "id": _reading_id(reading, "bp-pulse"),
        "meta": {"profile": [VITAL_PROFILE + "heartrate"]},
        "status": "final",
        "category": category("vital-signs"),
        "code": coding("8867-4", "Heart rate"),
        "subject": subject,
        "effectiveDateTime": iso(reading.measured_at),
        "device": {"display": f"device {reading.device_id}"},
        "valueQuantity": quantity(reading.value3, "/min"),
    }


def _summary_observations(summary: CgmSummaryOut, subject: dict[str, str]) -> list[dict[str, Any]]:
    """The guide's CGM summary and its members; none when the data cannot support them."""
    m = summary.metrics
    if (
        m.mean_mg_dl is None
        or m.gmi_percent is None
        or m.cv_percent is None
        or m.time_in_ranges is None
    ):
        # No CGM data (or a single reading): exporting zeros would claim 0 % in every band.
        return []
    # The guide's reporting period is a pair of dates (the patient's local days).
    period = {
        "start": summary.period.start_date.isoformat(),
        "end": summary.period.end_date.isoformat(),
    }

    def member(profile: str, code: str, text: str, **value: Any) -> dict[str, Any]:
        key = f"{summary.patient_id}/{code}/{period['start']}/{period['end']}"
        return {
            "resourceType": "Observation",
            "id": str(uuid.uuid5(EXPORT_NAMESPACE, key)),
            "meta": {"profile": [CGM_PROFILE + profile]},
            "status": "final",
            "category": category("laboratory"),
            "code": _loinc(code, text),
            "subject": subject,
            "effectivePeriod": period,
            **value,
        }

    ranges = m.time_in_ranges.model_dump()
    members = [
        member(
            "cgm-summary-mean-glucose-mass-per-volume",
            "97507-8",
            "Mean glucose",
            valueQuantity=_guide_quantity(m.mean_mg_dl, MG_DL),
        ),
        *(
            [
                member(
                    "cgm-summary-mean-glucose-moles-per-volume",
                    "105273-7",
                    "Mean glucose",
                    valueQuantity=_guide_quantity(m.mean_mmol_l, MMOL_L),
                )
            ]
            if m.mean_mmol_l is not None
            else []
        ),
        member(
            "cgm-summary-times-in-ranges",
            "106793-3",
            "Time in ranges",
            component=[
                {
                    "code": _loinc(code, band.replace("_", " ")),
                    "valueQuantity": _guide_quantity(ranges[band], PERCENT),
                }
                for band, code in BAND_LOINC.items()
            ],
        ),
        member(
            "cgm-summary-gmi",
            "97506-0",
            "Glucose management indicator",
            valueQuantity=_guide_quantity(m.gmi_percent, PERCENT),
        ),
        member(
            "cgm-summary-coefficient-of-variation",
            "104638-2",
            "Coefficient of variation",
            valueQuantity=_guide_quantity(m.cv_percent, PERCENT),
        ),
        member(
            "cgm-summary-days-of-wear",
            "104636-6",
            "Days of wear",
            valueQuantity=_guide_quantity(m.days_with_data, DAYS),
        ),
        member(
            "cgm-summary-sensor-active-percentage",
            "104637-4",
            "Sensor active percentage",
            valueQuantity=_guide_quantity(m.active_percent, PERCENT),
        ),
    ]
    grouping = member(
        "cgm-summary",
        "107931-8",
        "CGM summary",
        hasMember=[{"reference": f"urn:uuid:{o['id']}"} for o in members],
    )
    return [grouping, *members]


def bundle(
    patient_id: uuid.UUID,
    patient_name: str | None,
    readings: Sequence[Reading],
    summary: CgmSummaryOut,
) -> dict[str, Any]:
    """A collection Bundle: the Patient, one Observation per reading (and per pulse recorded
    with a BP reading), and the CGM summary when there is data to summarise."""
    # Every resource has a urn:uuid fullUrl; references use it so they resolve in the Bundle.
    subject = {"reference": f"urn:uuid:{patient_id}"}
    patient: dict[str, Any] = {"resourceType": "Patient", "id": str(patient_id)}
    if patient_name:
        patient["name"] = [{"text": patient_name}]
    observations: list[dict[str, Any]] = []
    for reading in readings:
        observations.append(_reading_observation(reading, subject))
        pulse = _bp_pulse_observation(reading, subject)
        if pulse is not None:
            observations.append(pulse)
    resources = [patient, *observations, *_summary_observations(summary, subject)]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": iso(utcnow()),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
