"""Access policy of the doctors' signing keys and the signing payload.

Only a doctor registers a key, and only for themselves (`/doctors/me`); only admins activate
and list keys. A doctor's revocation of someone else's key, and the signing payload of someone
else's prescription, are 404.
"""

from __future__ import annotations

from app.models import DoctorSigningKey, Role
from tests.access.rules import Rule, only
from tests.fixtures import factories
from tests.prescription.phone import DoctorPhone

DOCTOR = only(Role.doctor)
ADMIN = only(Role.admin)
KEYS = "/api/v1/doctors/me/signing-keys"

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/prescriptions/{prescription_id}/signing-payload"): Rule(DOCTOR, hidden=True),
    ("POST", KEYS): Rule(DOCTOR),
    ("GET", KEYS): Rule(DOCTOR),
    ("POST", KEYS + "/{key_id}/revoke"): Rule(DOCTOR, hidden=True, body={"reason": "丢失"}),
    ("GET", "/api/v1/signing-keys"): Rule(ADMIN),
    # Admins manage every doctor's key; `{}` is refused as malformed before anything changes.
    ("POST", "/api/v1/signing-keys/{key_id}/activate"): Rule(ADMIN),
    ("POST", "/api/v1/signing-keys/{key_id}/revoke"): Rule(ADMIN),
}


async def foreign_ids(session) -> dict[str, str]:
    """A stranger doctor's pending key."""
    doctor_account = await factories.account(session, Role.doctor)
    doctor = await factories.doctor_of(session, doctor_account)
    phone = DoctorPhone()
    key = DoctorSigningKey(
        doctor_id=doctor.id,
        public_key=phone.public_key,
        status="pending",
        registered_by_account_id=doctor_account.id,
        registration_proof=phone.registration(doctor.id)["proof"],
    )
    session.add(key)
    await session.flush()
    return {"key_id": str(key.id)}
