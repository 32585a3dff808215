"""Access policy of the insured-identity endpoints: patients declare their own, bureau clerks
verify and review (any patient: they keep the insurer's records)."""

from __future__ import annotations

from app.models import Role
from tests.access.rules import Rule, only

POLICY: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/patients/me/identity/declarations"): Rule(only(Role.patient)),
    ("GET", "/api/v1/patients/me/identity"): Rule(only(Role.patient)),
    ("GET", "/api/v1/identity/patients/{patient_id}"): Rule(only(Role.bureau)),
    ("POST", "/api/v1/identity/patients/{patient_id}/verifications"): Rule(only(Role.bureau)),
    ("GET", "/api/v1/identity/reviews"): Rule(only(Role.bureau)),
    ("POST", "/api/v1/identity/patients/{patient_id}/platform-verifications"): Rule(
        only(Role.bureau)
    ),
}


async def foreign_ids(session) -> dict[str, str]:
    """The foundation's policy provides another patient's id."""
    return {}
