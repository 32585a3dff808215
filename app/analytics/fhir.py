"""A patient's readings and CGM summary as a FHIR R4 Bundle of Observations (LOINC-coded)."""

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
# Names the deterministic ids of exported resources (a re-export gives the same ids).
EXPORT_NAMESPACE = uuid.UUID("6b1f3c52-3d0e-4c1a-9a53-2b7f4f9e8a10")
BAND_SYSTEM = "https://chronic-care.cn/fhir/CodeSystem/cgm-range"
# ECG rhythm classifications as devices give them (sinus, af, low_hr, high_hr, inconclusive,
# poor_recording, other): ECG summaries' `rhythm` and strips' device classification.
RHYTHM_SYSTEM = "https://chronic-care.cn/fhir/CodeSystem/ecg-rhythm"


def coding(code: str, display: str, system: str = LOINC) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}]}


def quantity(value: float, unit: str) -> dict[str, Any]:
    code = {"mmHg": "mm[Hg]", "/min": "/min", "%": "%"}.get(unit, unit)
    return {"value": round(value, 2), "unit": unit, "system": UCUM, "code": code}


def category(code: str) -> list[dict[str, Any]]:
    return [coding(code, code.replace("-", " ").title(), CATEGORY)]


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _reading_observation(reading: Reading, subject: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(
            uuid.uuid5(
                EXPORT_NAMESPACE, f"{reading.device_id}/{reading.kind}/{iso(reading.measured_at)}"
            )
        ),
        "status": "final",
        "subject": subject,
        "effectiveDateTime": iso(reading.measured_at),
        "device": {"display": f"device {reading.device_id}"},
    }
    if reading.kind in ("cgm", "scan"):
        body |= {
            "category": category("laboratory"),
            "code": coding("99504-3", "Glucose [Mass/volume] in Interstitial fluid"),
            "valueQuantity": quantity(reading.value, "mg/dL"),
        }
    elif reading.kind == "bg":
        body |= {
            "category": category("laboratory"),
            "code": coding("2339-0", "Glucose [Mass/volume] in Blood"),
            "valueQuantity": quantity(reading.value, "mg/dL"),
        }
    elif reading.kind == "bp":
        body |= {
            "category": category("vital-signs"),
            "code": coding("85354-9", "Blood pressure panel with all children optional"),
            "component": [
                {
                    "code": coding("8480-6", "Systolic blood pressure"),
                    "valueQuantity": quantity(reading.value, "mmHg"),
                },
                {
                    "code": coding("8462-4", "Diastolic blood pressure"),
                    "valueQuantity": quantity(reading.value2 or 0.0, "mmHg"),
                },
            ],
        }
    else:  # hr, and the mean rate of an ECG summary
        body |= {
            "category": category("vital-signs"),
            "code": coding("8867-4", "Heart rate"),
            "valueQuantity": quantity(reading.value, "/min"),
        }
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


def _summary_observations(summary: CgmSummaryOut, subject: dict[str, str]) -> list[dict[str, Any]]:
    m = summary.metrics
    period = {"start": iso(summary.period.start), "end": iso(summary.period.end)}
    common = {"status": "final", "subject": subject, "effectivePeriod": period}
    values = [
        ("97507-8", "Average glucose", m.mean_mg_dl, "mg/dL"),
        ("97506-0", "Glucose management indicator", m.gmi_percent, "%"),
        ("104638-2", "Coefficient of variation of glucose", m.cv_percent, "%"),
        ("104637-4", "CGM sensor active percent", m.active_percent, "%"),
    ]
    found: list[dict[str, Any]] = [
        {
            "resourceType": "Observation",
            "id": str(uuid.uuid5(EXPORT_NAMESPACE, f"{summary.patient_id}/{code}/{period}")),
            **common,
            "category": category("laboratory"),
            "code": coding(code, display),
            "valueQuantity": quantity(value, unit),
        }
        for code, display, value, unit in values
        if value is not None
    ]
    ranges = m.time_in_ranges.model_dump()
    found.append(
        {
            "resourceType": "Observation",
            "id": str(uuid.uuid5(EXPORT_NAMESPACE, f"{summary.patient_id}/106793-3/{period}")),
            **common,
            "category": category("laboratory"),
            "code": coding("106793-3", "Glucose time in ranges"),
            "component": [
                {
                    "code": coding(band, band.replace("_", " "), BAND_SYSTEM),
                    "valueQuantity": quantity(share, "%"),
                }
                for band, share in ranges.items()
            ],
        }
    )
    return found


def bundle(
    patient_id: uuid.UUID,
    patient_name: str | None,
    readings: Sequence[Reading],
    summary: CgmSummaryOut,
) -> dict[str, Any]:
    """A collection Bundle: the Patient, one Observation per reading, and the CGM summary."""
    # Every resource has a urn:uuid fullUrl; references use it so they resolve in the Bundle.
    subject = {"reference": f"urn:uuid:{patient_id}"}
    patient: dict[str, Any] = {"resourceType": "Patient", "id": str(patient_id)}
    if patient_name:
        patient["name"] = [{"text": patient_name}]
    resources = [
        patient,
        *(_reading_observation(r, subject) for r in readings),
        *_summary_observations(summary, subject),
    ]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": iso(utcnow()),
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
