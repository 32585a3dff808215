"""Access policy of the foundation's endpoints."""

from __future__ import annotations

import uuid

from app.models import Role
from tests.access.rules import ALL, PUBLIC, Rule, only
from tests.fixtures import factories

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    # Scraped by Prometheus; the load balancer keeps it on the internal network.
    ("GET", "/metrics"): PUBLIC,
    # The API's pages (served by fastapi-offline, off in prod unless API_DOCS_ENABLED).
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("POST", "/api/v1/auth/wechat-login"): PUBLIC,
    ("POST", "/api/v1/auth/password-login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): Rule(ALL),
    ("GET", "/api/v1/auth/me"): Rule(ALL),
    ("GET", "/api/v1/patients/me"): Rule(only(Role.patient)),
    ("PATCH", "/api/v1/patients/me"): Rule(only(Role.patient)),
    ("PUT", "/api/v1/patients/me"): Rule(only(Role.patient)),
    ("GET", "/api/v1/patients/me/access-log"): Rule(only(Role.patient)),
    ("GET", "/api/v1/patients"): Rule(only(Role.patient, Role.doctor)),
    ("GET", "/api/v1/patients/{patient_id}"): Rule(ALL, hidden=True),
    ("GET", "/api/v1/districts"): Rule(ALL),
    ("GET", "/api/v1/institutions"): Rule(ALL),
    ("POST", "/api/v1/institutions"): Rule(only(Role.admin)),
    ("PATCH", "/api/v1/institutions/{institution_id}"): Rule(only(Role.admin)),
    ("PUT", "/api/v1/institutions/{institution_id}"): Rule(only(Role.admin)),
    ("GET", "/api/v1/pharmacy-stores"): Rule(ALL),
    ("GET", "/api/v1/chronic-diseases"): Rule(ALL),
    ("GET", "/api/v1/drugs"): Rule(ALL),
    ("POST", "/api/v1/drugs"): Rule(only(Role.admin)),
    ("PATCH", "/api/v1/drugs/{drug_id}"): Rule(only(Role.admin)),
    ("PUT", "/api/v1/drugs/{drug_id}"): Rule(only(Role.admin)),
}


async def foreign_ids(session) -> dict[str, str]:
    """Another patient's id; unknown ids for admin-managed reference rows."""
    someone = await factories.account(session, Role.patient)
    patient = await factories.patient_of(session, someone)
    return {
        "patient_id": str(patient.id),
        "institution_id": str(uuid.uuid4()),
        "drug_id": str(uuid.uuid4()),
    }
