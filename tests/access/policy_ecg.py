"""Access policy of ECG strips."""

from __future__ import annotations

import uuid

from app.kit.clock import utcnow
from app.models import Device, EcgStrip, Role
from tests.access.rules import ALL, Rule, only
from tests.fixtures import factories

POLICY: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/ecg-strips"): Rule(only(Role.patient)),
    ("GET", "/api/v1/patients/{patient_id}/ecg-strips"): Rule(ALL, hidden=True),
    ("GET", "/api/v1/ecg-strips/{strip_id}"): Rule(ALL, hidden=True),
    ("GET", "/api/v1/ecg-strips/{strip_id}/strip.{image_format}"): Rule(ALL, hidden=True),
    ("GET", "/api/v1/ecg-strips/{strip_id}/fhir"): Rule(ALL, hidden=True),
}


async def foreign_ids(session) -> dict[str, str]:
    """A strip of another patient (its samples are never reached: the scope answers first)."""
    someone = await factories.account(session, Role.patient)
    patient = await factories.patient_of(session, someone)
    device = Device(
        patient_id=patient.id,
        kind="ecg",
        model="Test ECG",
        serial=f"SN-{uuid.uuid4().hex[:10]}",
        unit="bpm",
        source="app",
        bound_at=utcnow(),
    )
    session.add(device)
    await session.flush()
    strip = EcgStrip(
        patient_id=patient.id,
        device_id=device.id,
        recorded_at=utcnow(),
        utc_offset_minutes=480,
        source="fhir",
        lead="I",
        sampling_rate_hz=512.0,
        sample_count=15360,
        blob_key=f"ecg/{patient.id}/{uuid.uuid4().hex}",
        samples_sha256="0" * 64,
        r_peaks=[],
        rr_irregular=False,
        possible_af=False,
    )
    session.add(strip)
    await session.flush()
    return {"strip_id": str(strip.id)}
