"""Access policy of devices, readings, Nightscout, analytics and alerts."""

from __future__ import annotations

import uuid

from app.models import Device, Role
from tests.access.rules import ALL, PUBLIC, Rule, only
from tests.fixtures import factories

PATIENT = only(Role.patient)
DOCTOR = only(Role.doctor)
PATIENT_OR_DOCTOR = only(Role.patient, Role.doctor)

POLICY: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/devices"): Rule(PATIENT),
    ("GET", "/api/v1/devices"): Rule(PATIENT),
    ("DELETE", "/api/v1/devices/{device_id}"): Rule(PATIENT, hidden=True),
    ("POST", "/api/v1/devices/{device_id}/sensor-sessions"): Rule(PATIENT, hidden=True),
    ("POST", "/api/v1/devices/{device_id}/sensor-sessions/end"): Rule(PATIENT, hidden=True),
    ("GET", "/api/v1/patients/{patient_id}/devices"): Rule(ALL, hidden=True),
    ("POST", "/api/v1/readings"): Rule(PATIENT),
    ("GET", "/api/v1/patients/{patient_id}/readings"): Rule(ALL, hidden=True),
    ("POST", "/api/v1/patients/{patient_id}/readings/import"): Rule(PATIENT_OR_DOCTOR, hidden=True),
    # Uploaders authenticate with the patient's Nightscout secret, not a sign-in: no bearer
    # token opens them (tests/reading/test_nightscout.py covers the secret).
    ("POST", "/api/v1/entries"): PUBLIC,
    ("POST", "/api/v1/entries.json"): PUBLIC,
    ("GET", "/api/v1/entries"): PUBLIC,
    ("GET", "/api/v1/entries.json"): PUBLIC,
    ("GET", "/api/v1/entries/current"): PUBLIC,
    ("GET", "/api/v1/entries/current.json"): PUBLIC,
    ("GET", "/api/v1/entries/{model}"): PUBLIC,
    ("GET", "/api/v1/status"): PUBLIC,
    ("GET", "/api/v1/status.json"): PUBLIC,
    ("GET", "/api/v1/verifyauth"): PUBLIC,
    ("POST", "/api/v1/treatments"): PUBLIC,
    ("POST", "/api/v1/treatments.json"): PUBLIC,
    ("GET", "/api/v1/treatments"): PUBLIC,
    ("GET", "/api/v1/treatments.json"): PUBLIC,
    ("POST", "/api/v1/devicestatus"): PUBLIC,
    ("POST", "/api/v1/devicestatus.json"): PUBLIC,
    ("GET", "/api/v1/devicestatus"): PUBLIC,
    ("GET", "/api/v1/devicestatus.json"): PUBLIC,
    ("GET", "/api/v1/profile"): PUBLIC,
    ("GET", "/api/v1/profile.json"): PUBLIC,
    # Vendors' delivery manifests and clinics' hand-over lists: platform admins.
    ("POST", "/api/v1/device-registrations"): Rule(
        only(Role.admin),
        body={
            "source": "vendor",
            "devices": [
                {"kind": "cgm", "model": "G7", "serial": "ACCESS-1", "pairing_code": "1234"}
            ],
        },
    ),
    ("GET", "/api/v1/nightscout/credential"): Rule(PATIENT),
    ("POST", "/api/v1/nightscout/credential"): Rule(PATIENT),
    ("DELETE", "/api/v1/nightscout/credential"): Rule(PATIENT),
    ("GET", "/api/v1/patients/{patient_id}/cgm-summary"): Rule(ALL, hidden=True),
    ("GET", "/api/v1/patients/{patient_id}/bp-summary"): Rule(ALL, hidden=True),
    ("GET", "/api/v1/patients/{patient_id}/bp-sleep-periods"): Rule(ALL, hidden=True),
    ("POST", "/api/v1/patients/{patient_id}/bp-sleep-periods"): Rule(
        ALL,
        hidden=True,
        body={"bed_at": "2026-12-01T23:00:00+08:00", "rise_at": "2026-12-02T07:00:00+08:00"},
    ),
    ("GET", "/api/v1/patients/{patient_id}/charts/{chart}.{image_format}"): Rule(ALL, hidden=True),
    ("GET", "/api/v1/patients/{patient_id}/fhir"): Rule(ALL, hidden=True),
    ("GET", "/api/v1/panel"): Rule(DOCTOR),
    ("GET", "/api/v1/alerts"): Rule(PATIENT_OR_DOCTOR),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): Rule(DOCTOR, hidden=True),
}


async def foreign_ids(session) -> dict[str, str]:
    """A device and an alert of another patient; chart format svg; Nightscout's sgv entries."""
    from app.kit.clock import utcnow
    from app.models import Alert

    someone = await factories.account(session, Role.patient)
    patient = await factories.patient_of(session, someone)
    device = Device(
        patient_id=patient.id,
        kind="cgm",
        model="Test CGM",
        serial=f"SN-{uuid.uuid4().hex[:10]}",
        unit="mmol/L",
        sample_interval_seconds=300,
        source="app",
        bound_at=utcnow(),
    )
    alert = Alert(
        patient_id=patient.id, rule="urgent_low", level=3, measured_at=utcnow(), value=45.0
    )
    session.add_all([device, alert])
    await session.flush()
    return {
        "device_id": str(device.id),
        "alert_id": str(alert.id),
        "chart": "agp",
        "image_format": "svg",
        "model": "sgv.json",
    }
