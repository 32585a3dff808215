"""Applying with medical records, reviewers' decisions, entitlements and notifications."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.catalogue import service as catalogue_service
from app.kit.clock import city_date
from app.models import (
    AuditEvent,
    EnrollmentApplication,
    Entitlement,
    OutboxMessage,
    Role,
)
from tests.enrollment import builders
from tests.fixtures import factories

APPS = "/api/v1/enrollment/applications"


async def _setup(db_session, settings):
    """An unentitled patient, a designated institution and its reviewer; their headers."""
    await builders.catalogue(db_session)
    patient_account, patient = await builders.patient(db_session)
    reviewer_account, reviewer = await builders.doctor(db_session)
    admin = await factories.account(db_session, Role.admin)
    await factories.enrollment_reviewer(db_session, reviewer, admin)
    return (
        patient,
        reviewer,
        await factories.bearer(db_session, settings, patient_account),
        await factories.bearer(db_session, settings, reviewer_account),
    )


async def _draft(client, headers, institution_id, code="M01603", key=None):
    extra = {"Idempotency-Key": key} if key else {}
    return await client.post(
        APPS,
        json={"disease_code": code, "institution_id": str(institution_id)},
        headers={**headers, **extra},
    )


async def _attach(client, headers, application_id, data=builders.PNG, name="report.png"):
    return await client.post(
        f"{APPS}/{application_id}/records",
        files={"file": (name, data, "application/octet-stream")},
        headers=headers,
    )


async def _submitted(client, headers, institution_id) -> str:
    application_id = (await _draft(client, headers, institution_id)).json()["id"]
    assert (await _attach(client, headers, application_id)).status_code == 201
    assert (
        await client.post(f"{APPS}/{application_id}/submit", headers=headers)
    ).status_code == 200
    return application_id


async def test_approval_creates_an_entitlement_and_notifies_the_patient(
    client, db_session, settings
):
    patient, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    queue = (await client.get(APPS, params={"status": "pending"}, headers=reviewer_h)).json()
    assert [a["id"] for a in queue["items"]] == [application_id]
    decided = await client.post(
        f"{APPS}/{application_id}/decision", json={"approve": True}, headers=reviewer_h
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "approved" and body["entitlement"]["active"] is True
    entitlement = await db_session.scalar(
        select(Entitlement).where(Entitlement.patient_id == patient.id)
    )
    assert entitlement is not None and str(entitlement.id) == body["entitlement"]["id"]
    message = await db_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"enrollment-decided:{application_id}"
        )
    )
    assert message is not None and message.payload["data"]["status"] == "approved"


async def test_every_step_is_audited(client, db_session, settings):
    patient, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    await client.post(
        f"{APPS}/{application_id}/decision", json={"approve": True}, headers=reviewer_h
    )
    events = (
        await db_session.scalars(select(AuditEvent).where(AuditEvent.patient_id == patient.id))
    ).all()
    kinds = {(e.resource_type, e.action, e.actor_role) for e in events}
    assert ("enrollment_application", "create", "patient") in kinds
    assert ("enrollment_record", "create", "patient") in kinds
    assert ("enrollment_application", "update", "patient") in kinds  # submitted
    assert ("enrollment_application", "update", "doctor") in kinds  # decided


async def test_reapplying_while_pending_is_refused(client, db_session, settings):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    await _submitted(client, patient_h, reviewer.institution_id)
    again = await _draft(client, patient_h, reviewer.institution_id)
    assert again.status_code == 409 and again.json()["code"] == "application_open"


async def test_a_retried_create_returns_the_first_application(client, db_session, settings):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    first = await _draft(client, patient_h, reviewer.institution_id, key="k-1")
    second = await _draft(client, patient_h, reviewer.institution_id, key="k-1")
    assert first.status_code == 201 and second.status_code == 201
    assert first.json()["id"] == second.json()["id"]


async def test_applying_while_entitled_is_refused(client, db_session, settings):
    _, reviewer, _patient_h, _ = await _setup(db_session, settings)
    patient_account, _ = await builders.patient(db_session, "M01603")
    headers = await factories.bearer(db_session, settings, patient_account)
    response = await _draft(client, headers, reviewer.institution_id)
    assert response.status_code == 409 and response.json()["code"] == "already_entitled"


async def test_a_disease_outside_the_catalogue_is_refused(client, db_session, settings):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    response = await _draft(client, patient_h, reviewer.institution_id, code="M77777")
    assert response.status_code == 409 and response.json()["code"] == "disease_not_in_catalogue"


async def test_any_disease_of_the_city_s_catalogue_can_be_applied_for(client, db_session, settings):
    _, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    # The city's whole catalogue in force (the demo's own history, as seed-demo loads it).
    await catalogue_service.load_catalogue(
        db_session, catalogue_service.read_catalogue_file(), backdate=True
    )
    drafted = await _draft(client, patient_h, reviewer.institution_id, code="M07803")
    assert drafted.status_code == 201, drafted.text
    application_id = drafted.json()["id"]
    assert (await _attach(client, patient_h, application_id)).status_code == 201
    submit = await client.post(f"{APPS}/{application_id}/submit", headers=patient_h)
    assert submit.status_code == 200
    decided = await client.post(
        f"{APPS}/{application_id}/decision", json={"approve": True}, headers=reviewer_h
    )
    assert decided.status_code == 200 and decided.json()["entitlement"]["active"] is True
    # Haemodialysis is a catalogue disease, but not one the online service admits.
    dialysis = (
        await db_session.scalars(
            select(EnrollmentApplication.disease_id).where(
                EnrollmentApplication.id == uuid.UUID(application_id)
            )
        )
    ).one()
    admitted = await catalogue_service.online_admitted_disease_ids(
        db_session, [dialysis], city_date()
    )
    assert admitted == set()


async def test_a_record_is_typed_by_its_content_not_its_name(client, db_session, settings):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    application_id = (await _draft(client, patient_h, reviewer.institution_id)).json()["id"]
    refused = await _attach(client, patient_h, application_id, b"<html>not a scan</html>", "x.png")
    assert refused.status_code == 415 and refused.json()["code"] == "record_type_refused"
    pdf = await _attach(client, patient_h, application_id, builders.PDF, "summary.bin")
    assert pdf.status_code == 201 and pdf.json()["content_type"] == "application/pdf"


async def test_an_oversized_record_is_refused(client, app, db_session, settings):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    application_id = (await _draft(client, patient_h, reviewer.institution_id)).json()["id"]
    limit = settings.enrollment_record_max_bytes
    big = builders.PNG + b"\x00" * limit
    response = await _attach(client, patient_h, application_id, big)
    assert response.status_code == 413 and response.json()["code"] == "record_too_large"


async def test_the_bytes_live_in_the_blob_store_and_reviewers_can_read_them(
    client, app, db_session, settings
):
    _, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    record = (await client.get(f"{APPS}/{application_id}", headers=reviewer_h)).json()["records"][0]
    download = await client.get(
        f"{APPS}/{application_id}/records/{record['id']}", headers=reviewer_h
    )
    assert download.status_code == 200 and download.content == builders.PNG
    assert download.headers["content-type"] == "image/png"


async def test_submitting_without_records_is_refused(client, db_session, settings):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    application_id = (await _draft(client, patient_h, reviewer.institution_id)).json()["id"]
    response = await client.post(f"{APPS}/{application_id}/submit", headers=patient_h)
    assert response.status_code == 409 and response.json()["code"] == "application_needs_records"


async def test_a_draft_cannot_be_decided(client, db_session, settings):
    _, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    application_id = (await _draft(client, patient_h, reviewer.institution_id)).json()["id"]
    response = await client.post(
        f"{APPS}/{application_id}/decision", json={"approve": True}, headers=reviewer_h
    )
    assert response.status_code == 409
    assert response.json()["code"] == "application_transition_illegal"
    assert (await client.get(f"{APPS}/{application_id}", headers=patient_h)).json()[
        "status"
    ] == "draft"


async def test_a_decided_application_cannot_be_withdrawn_or_decided_again(
    client, db_session, settings
):
    _, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    rejected = await client.post(
        f"{APPS}/{application_id}/decision",
        json={"approve": False, "reason": "records incomplete"},
        headers=reviewer_h,
    )
    assert rejected.json()["status"] == "rejected"
    withdraw = await client.post(f"{APPS}/{application_id}/withdraw", headers=patient_h)
    approve = await client.post(
        f"{APPS}/{application_id}/decision", json={"approve": True}, headers=reviewer_h
    )
    assert withdraw.status_code == approve.status_code == 409
    assert (await client.get(f"{APPS}/{application_id}", headers=patient_h)).json()[
        "status"
    ] == "rejected"


async def test_a_rejection_needs_a_reason(client, db_session, settings):
    _, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    response = await client.post(
        f"{APPS}/{application_id}/decision", json={"approve": False}, headers=reviewer_h
    )
    assert response.status_code == 409 and response.json()["code"] == "rejection_needs_reason"


async def test_a_pending_application_can_be_withdrawn_and_applied_for_again(
    client, db_session, settings
):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    withdrawn = await client.post(f"{APPS}/{application_id}/withdraw", headers=patient_h)
    assert withdrawn.json()["status"] == "withdrawn"
    assert (await _draft(client, patient_h, reviewer.institution_id)).status_code == 201


async def test_a_doctor_who_does_not_review_that_institution_sees_nothing(
    client, db_session, settings
):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    outsider_account, _ = await builders.doctor(db_session)
    outsider_h = await factories.bearer(db_session, settings, outsider_account)
    assert (await client.get(f"{APPS}/{application_id}", headers=outsider_h)).status_code == 404
    decide = await client.post(
        f"{APPS}/{application_id}/decision", json={"approve": True}, headers=outsider_h
    )
    assert decide.status_code == 404
    listed = (await client.get(APPS, headers=outsider_h)).json()["items"]
    assert listed == []


async def test_admins_grant_and_revoke_reviewers(client, db_session, settings):
    admin_h = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.admin)
    )
    _, doctor = await builders.doctor(db_session)
    granted = await client.post(
        "/api/v1/enrollment/reviewers", json={"doctor_id": str(doctor.id)}, headers=admin_h
    )
    assert granted.status_code == 201 and granted.json()["institution_id"] == str(
        doctor.institution_id
    )
    twice = await client.post(
        "/api/v1/enrollment/reviewers", json={"doctor_id": str(doctor.id)}, headers=admin_h
    )
    assert twice.status_code == 409
    assert (
        await client.delete(f"/api/v1/enrollment/reviewers/{doctor.id}", headers=admin_h)
    ).status_code == 204
    unknown = await client.post(
        "/api/v1/enrollment/reviewers", json={"doctor_id": str(uuid.uuid4())}, headers=admin_h
    )
    assert unknown.status_code == 404


async def test_the_year_of_diagnosis_is_declared_and_the_reviewer_corrects_it(
    client, db_session, settings
):
    """The disease course the assignment weighs starts at the year the records show."""
    _patient, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    this_year = city_date().year
    created = await client.post(
        APPS,
        json={
            "disease_code": "M01603",
            "institution_id": str(reviewer.institution_id),
            "diagnosed_year": this_year - 3,
        },
        headers=patient_h,
    )
    assert created.status_code == 201, created.text
    application_id = created.json()["id"]
    assert created.json()["diagnosed_year"] == this_year - 3
    assert (await _attach(client, patient_h, application_id)).status_code == 201
    assert (await client.post(f"{APPS}/{application_id}/submit", headers=patient_h)).is_success
    decided = await client.post(
        f"{APPS}/{application_id}/decision",
        json={"approve": True, "diagnosed_year": this_year - 12},
        headers=reviewer_h,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["diagnosed_year"] == this_year - 12
    stored = await db_session.get(EnrollmentApplication, uuid.UUID(application_id))
    await db_session.refresh(stored)
    assert stored.diagnosed_year == this_year - 12


async def test_a_year_of_diagnosis_in_the_future_is_refused(client, db_session, settings):
    _patient, reviewer, patient_h, reviewer_h = await _setup(db_session, settings)
    next_year = city_date().year + 1
    body = {"disease_code": "M01603", "institution_id": str(reviewer.institution_id)}
    refused = await client.post(APPS, json={**body, "diagnosed_year": next_year}, headers=patient_h)
    assert refused.status_code == 409
    assert refused.json()["code"] == "diagnosed_year_in_future"
    assert refused.json()["detail"] == f"确诊年份不能晚于 {next_year - 1} 年"
    assert (
        await client.post(APPS, json={**body, "diagnosed_year": 1899}, headers=patient_h)
    ).status_code == 422
    application_id = await _submitted(client, patient_h, reviewer.institution_id)
    decided = await client.post(
        f"{APPS}/{application_id}/decision",
        json={"approve": True, "diagnosed_year": next_year},
        headers={**reviewer_h, "Accept-Language": "en"},
    )
    assert decided.status_code == 409
    assert decided.json()["detail"] == f"The year of diagnosis cannot be after {next_year - 1}"
    stored = await db_session.get(EnrollmentApplication, uuid.UUID(application_id))
    await db_session.refresh(stored)
    assert stored.status == "pending" and stored.diagnosed_year is None
