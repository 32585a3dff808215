"""Enrollment endpoints: patients apply with records, reviewers decide, admins grant reviewers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.enrollment import entitlements as entitlement_service
from app.enrollment import records as record_service
from app.enrollment import service as enrollment_service
from app.enrollment.entitlements import EntitlementView
from app.enrollment.schemas import (
    ApplicationCreate,
    ApplicationOut,
    ApplicationPage,
    ApplicationStatus,
    DecisionCreate,
    EntitlementOut,
    RecordOut,
    ReviewerCreate,
    ReviewerOut,
)
from app.enrollment.service import ApplicationView
from app.errors import AppError
from app.idempotency import IdempotencyKey
from app.kit.clock import city_date
from app.kit.downloads import user_upload_response
from app.kit.pagination import Page, PageQuery
from app.models import Role
from app.request_bodies import ONE_FILE_BODY, uploaded_file

router = APIRouter(prefix="/api/v1/enrollment", tags=["enrollment"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
PatientOrDoctor = Annotated[Principal, require_roles(Role.patient, Role.doctor)]
DoctorOnly = Annotated[Principal, require_roles(Role.doctor)]
Admin = Annotated[Principal, require_roles(Role.admin)]


class PatientIdMissing(AppError):
    """A doctor's entitlement list without the patient it is about."""

    status = 422
    code = "validation_failed"


def entitlement_out(view: EntitlementView) -> EntitlementOut:
    """The body of an entitlement."""
    e = view.entitlement
    return EntitlementOut(
        id=e.id,
        patient_id=e.patient_id,
        disease_code=view.disease.code,
        disease_name_zh=view.disease.name_zh,
        institution_id=e.institution_id,
        application_id=e.application_id,
        valid_from=e.valid_from,
        valid_until=e.valid_until,
        active=view.active,
    )


def _application_out(view: ApplicationView) -> ApplicationOut:
    a = view.application
    entitlement = None
    if view.entitlement is not None:
        entitlement = entitlement_out(
            entitlement_service.view_of(view.entitlement, view.disease, city_date())
        )
    return ApplicationOut(
        id=a.id,
        patient_id=a.patient_id,
        patient_name=view.patient_name,
        disease_code=view.disease.code,
        disease_name_zh=view.disease.name_zh,
        institution_id=a.institution_id,
        status=a.status,
        statement=a.statement,
        diagnosed_year=a.diagnosed_year,
        submitted_at=a.submitted_at,
        decided_at=a.decided_at,
        decision_reason=a.decision_reason,
        records=[RecordOut.model_validate(r) for r in view.records],
        entitlement=entitlement,
    )


@router.post("/applications", response_model=ApplicationOut, status_code=status.HTTP_201_CREATED)
async def create_application(
    body: ApplicationCreate,
    principal: PatientOnly,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> ApplicationOut:
    """Start an application for a catalogue disease at a designated institution (a draft)."""
    view = await enrollment_service.create_application(session, principal, body, idempotency_key)
    return _application_out(view)


@router.get("/applications", response_model=ApplicationPage)
async def list_applications(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
    status: ApplicationStatus | None = None,
) -> ApplicationPage:
    """A patient's own applications, or the applications a reviewer's institutions received."""
    resume = page.after(uuid.UUID)
    views = await enrollment_service.list_applications(
        session, principal, status, resume[0] if resume else None, page.limit
    )
    items = [_application_out(v) for v in views]
    return page.page_as(ApplicationPage, items, lambda a: (a.id,))


@router.get("/applications/{application_id}", response_model=ApplicationOut)
async def get_application(
    application_id: uuid.UUID, principal: PatientOrDoctor, session: DbSession
) -> ApplicationOut:
    """One application (its patient, or a reviewer of its institution)."""
    return _application_out(
        await enrollment_service.get_application(session, principal, application_id)
    )


@router.post(
    "/applications/{application_id}/records",
    response_model=RecordOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=ONE_FILE_BODY,
)
async def attach_record(
    application_id: uuid.UUID, request: Request, principal: PatientOnly, session: DbSession
) -> RecordOut:
    """Attach one medical-record file (JPEG, PNG or PDF, field `file`) to a draft."""
    # The form is read only after the scope check, so a foreign id is 404 whatever the body.
    await enrollment_service.load_application(session, principal, application_id)
    settings = request.app.state.settings
    upload = await uploaded_file(request, settings.enrollment_record_max_bytes)
    record = await record_service.attach_record(
        session,
        principal,
        settings,
        request.app.state.blobs,
        application_id,
        upload.data,
        upload.filename,
    )
    return RecordOut.model_validate(record)


@router.get(
    "/applications/{application_id}/records/{record_id}",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "application/pdf": {}}}},
)
async def download_record(
    application_id: uuid.UUID,
    record_id: uuid.UUID,
    request: Request,
    principal: PatientOrDoctor,
    session: DbSession,
) -> Response:
    """The bytes of one record (its patient, or a reviewer of the institution)."""
    record, data = await record_service.read_record(
        session, principal, request.app.state.blobs, application_id, record_id
    )
    return user_upload_response(data, record.content_type, record.filename)


@router.post("/applications/{application_id}/submit", response_model=ApplicationOut)
async def submit_application(
    application_id: uuid.UUID, principal: PatientOnly, session: DbSession
) -> ApplicationOut:
    """Submit a draft with its records for review."""
    return _application_out(
        await enrollment_service.submit_application(session, principal, application_id)
    )


@router.post("/applications/{application_id}/withdraw", response_model=ApplicationOut)
async def withdraw_application(
    application_id: uuid.UUID, principal: PatientOnly, session: DbSession
) -> ApplicationOut:
    """Take back a draft or pending application."""
    return _application_out(
        await enrollment_service.withdraw_application(session, principal, application_id)
    )


async def _reviewable(application_id: uuid.UUID, principal: DoctorOnly, session: DbSession) -> None:
    # A dependency, so someone else's id is 404 before the body is validated (no probing).
    await enrollment_service.load_application(session, principal, application_id)


@router.post("/applications/{application_id}/decision", response_model=ApplicationOut)
async def decide_application(
    application_id: uuid.UUID,
    _: Annotated[None, Depends(_reviewable)],
    body: DecisionCreate,
    request: Request,
    principal: DoctorOnly,
    session: DbSession,
) -> ApplicationOut:
    """Approve (creating the entitlement) or reject with a reason (the institution's reviewer)."""
    view = await enrollment_service.decide_application(
        session, principal, request.app.state.settings, application_id, body
    )
    return _application_out(view)


@router.get("/entitlements", response_model=Page[EntitlementOut])
async def list_entitlements(
    principal: PatientOrDoctor,
    session: DbSession,
    page: PageQuery,
    patient_id: uuid.UUID | None = None,
) -> Page[EntitlementOut]:
    """A patient's entitlements, latest-ending first: one's own, or (doctors) a patient in
    one's care."""
    target = patient_id or principal.patient_id
    if target is None:
        raise PatientIdMissing()
    views = await entitlement_service.list_entitlements(session, principal, target)
    items = [entitlement_out(v) for v in views]
    return page.page_of_all(
        items, lambda e: (e.valid_until, e.id), date, uuid.UUID, descending=True
    )


@router.get("/reviewers", response_model=Page[ReviewerOut])
async def list_reviewers(_: Admin, session: DbSession, page: PageQuery) -> Page[ReviewerOut]:
    """Doctors who review applications, by institution (admin)."""
    items = [
        ReviewerOut.model_validate(r) for r in await enrollment_service.list_reviewers(session)
    ]
    return page.page_of_all(
        items, lambda r: (r.institution_id, r.created_at, r.id), uuid.UUID, datetime, uuid.UUID
    )


@router.post("/reviewers", response_model=ReviewerOut, status_code=status.HTTP_201_CREATED)
async def grant_reviewer(body: ReviewerCreate, principal: Admin, session: DbSession) -> ReviewerOut:
    """Make a doctor a reviewer of their institution's applications (admin)."""
    return ReviewerOut.model_validate(
        await enrollment_service.grant_reviewer(session, principal, body.doctor_id)
    )


@router.delete("/reviewers/{doctor_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_reviewer(doctor_id: uuid.UUID, _: Admin, session: DbSession) -> Response:
    """End a doctor's reviewer grants (admin)."""
    await enrollment_service.revoke_reviewer(session, doctor_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
