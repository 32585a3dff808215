"""Access policy of the enrollment endpoints: catalogue, enrollment, doctors, assignment, care."""

from __future__ import annotations

import uuid

from app.models import Role
from tests.access.rules import ALL, Rule, only
from tests.enrollment.builders import foreign_world

PATIENT = only(Role.patient)
DOCTOR = only(Role.doctor)
ADMIN = only(Role.admin)
PATIENT_DOCTOR = only(Role.patient, Role.doctor)
DOCTOR_ADMIN = only(Role.doctor, Role.admin)
APPLICATION = "/api/v1/enrollment/applications/{application_id}"
TEAM = "/api/v1/care/teams/{team_id}"

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/catalogue"): Rule(ALL),
    ("GET", "/api/v1/catalogue/editions"): Rule(ALL),
    ("POST", "/api/v1/catalogue/editions"): Rule(ADMIN),
    ("POST", "/api/v1/enrollment/applications"): Rule(PATIENT),
    ("GET", "/api/v1/enrollment/applications"): Rule(PATIENT_DOCTOR),
    ("GET", APPLICATION): Rule(PATIENT_DOCTOR, hidden=True),
    ("POST", APPLICATION + "/records"): Rule(PATIENT, hidden=True),
    ("GET", APPLICATION + "/records/{record_id}"): Rule(PATIENT_DOCTOR, hidden=True),
    ("POST", APPLICATION + "/submit"): Rule(PATIENT, hidden=True),
    ("POST", APPLICATION + "/withdraw"): Rule(PATIENT, hidden=True),
    ("POST", APPLICATION + "/decision"): Rule(DOCTOR, hidden=True),
    ("GET", "/api/v1/enrollment/entitlements"): Rule(PATIENT_DOCTOR),
    ("GET", "/api/v1/enrollment/reviewers"): Rule(ADMIN),
    ("POST", "/api/v1/enrollment/reviewers"): Rule(ADMIN),
    # An unknown doctor id: there is nothing to revoke (404).
    ("DELETE", "/api/v1/enrollment/reviewers/{doctor_id}"): Rule(ADMIN, hidden=True),
    ("GET", "/api/v1/doctors"): Rule(ALL),
    ("GET", "/api/v1/doctors/me"): Rule(DOCTOR),
    ("PUT", "/api/v1/doctors/me/working-hours"): Rule(DOCTOR),
    ("GET", "/api/v1/doctors/{doctor_id}"): Rule(ALL, hidden=True),
    ("PATCH", "/api/v1/doctors/{doctor_id}"): Rule(ADMIN, hidden=True),
    ("PUT", "/api/v1/doctors/{doctor_id}"): Rule(ADMIN, hidden=True),
    ("POST", "/api/v1/online-care/start"): Rule(PATIENT),
    ("POST", "/api/v1/online-care/change-doctor"): Rule(PATIENT),
    ("POST", "/api/v1/online-care/transfers"): Rule(DOCTOR),
    ("GET", "/api/v1/online-care/decisions"): Rule(PATIENT_DOCTOR),
    ("GET", "/api/v1/online-care/decisions/{decision_id}"): Rule(PATIENT_DOCTOR, hidden=True),
    ("POST", "/api/v1/consultations"): Rule(PATIENT),
    ("GET", "/api/v1/consultations/queue"): Rule(DOCTOR),
    ("GET", "/api/v1/consultations/{request_id}"): Rule(PATIENT_DOCTOR, hidden=True),
    ("POST", "/api/v1/consultations/{request_id}/{action}"): Rule(PATIENT_DOCTOR, hidden=True),
    ("GET", "/api/v1/care/relationships"): Rule(PATIENT_DOCTOR),
    ("POST", "/api/v1/care/relationships/{relationship_id}/end"): Rule(ADMIN, hidden=True),
    ("POST", "/api/v1/care/teams"): Rule(ADMIN),
    ("GET", "/api/v1/care/teams"): Rule(DOCTOR_ADMIN),
    # Someone else's team: hidden from doctors outside it; admins manage every team.
    ("GET", TEAM): Rule(DOCTOR_ADMIN, hidden=True, sees_all=ADMIN),
    ("POST", TEAM + "/members"): Rule(ADMIN),
    ("DELETE", TEAM + "/members/{doctor_id}"): Rule(ADMIN),
    ("POST", TEAM + "/patients"): Rule(DOCTOR_ADMIN, hidden=True, sees_all=ADMIN),
    ("DELETE", TEAM + "/patients/{patient_id}"): Rule(DOCTOR_ADMIN, hidden=True, sees_all=ADMIN),
    ("POST", "/api/v1/care/follow-up-plans"): Rule(DOCTOR),
    ("GET", "/api/v1/care/follow-up-plans"): Rule(PATIENT_DOCTOR),
    ("POST", "/api/v1/care/follow-up-plans/{plan_id}/end"): Rule(DOCTOR, hidden=True),
    ("GET", "/api/v1/care/follow-ups"): Rule(PATIENT_DOCTOR),
    ("POST", "/api/v1/care/follow-ups/{follow_up_id}/complete"): Rule(DOCTOR, hidden=True),
    ("POST", "/api/v1/care/follow-ups/{follow_up_id}/miss"): Rule(DOCTOR, hidden=True),
    ("POST", "/api/v1/care/follow-ups/{follow_up_id}/cancel"): Rule(DOCTOR, hidden=True),
    ("POST", "/api/v1/care/referrals"): Rule(DOCTOR),
    ("GET", "/api/v1/care/referrals"): Rule(PATIENT_DOCTOR),
    ("GET", "/api/v1/care/referrals/{referral_id}"): Rule(PATIENT_DOCTOR, hidden=True),
    ("POST", "/api/v1/care/referrals/{referral_id}/{action}"): Rule(DOCTOR, hidden=True),
}


async def foreign_ids(session) -> dict[str, str]:
    """Someone else's application, record, consultation, decision, team, plan, referral."""
    world = await foreign_world(session)
    return {
        "application_id": str(world.application_id),
        "record_id": str(world.record_id),
        "request_id": str(world.request_id),
        "decision_id": str(world.decision_id),
        "relationship_id": str(uuid.uuid4()),
        "team_id": str(world.team_id),
        "plan_id": str(world.plan_id),
        "follow_up_id": str(world.follow_up_id),
        "referral_id": str(world.referral_id),
        "doctor_id": str(uuid.uuid4()),
        "action": "cancel",
    }
