"""Enrollment rules: applying, submitting, withdrawing, reviewing, and reviewer grants.

Application states and their legal transitions live in TRANSITIONS; anything else is 409 and
changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.catalogue import service as catalogue_service
from app.config import Settings
from app.enrollment import repository as enrollment_repository
from app.enrollment.schemas import ApplicationCreate, DecisionCreate
from app.errors import Conflict, NotFound
from app.identity import service as identity_service
from app.kit.clock import city_date, utcnow
from app.kit.repository import by_id
from app.kit.sql import add_unique
from app.models import (
    ChronicDisease,
    EnrollmentApplication,
    EnrollmentRecord,
    EnrollmentReviewer,
    Entitlement,
    Institution,
)
from app.outbox.push import PushNotification, queue_push

APPLICATION_RESOURCE = "enrollment_application"
RECORD_RESOURCE = "enrollment_record"

# status -> {action: next status}. Approved, rejected and withdrawn are final.
TRANSITIONS: dict[str, dict[str, str]] = {
    "draft": {"submit": "pending", "withdraw": "withdrawn", "attach records to": "draft"},
    "pending": {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn"},
}

# A patient may apply again for a disease this close to the end of their entitlement.
RENEWAL_WINDOW_DAYS = 30
# The longest validity a reviewer may give.
MAX_VALIDITY_DAYS = 3 * 366


def require_status(application: EnrollmentApplication, action: str) -> str:
    """The status `action` leads to from the application's status; 409 if it is not legal."""
    target = TRANSITIONS.get(application.status, {}).get(action)
    if target is None:
        raise Conflict("application_transition_illegal", current=application.status, action=action)
    return target


@dataclass(frozen=True)
class ApplicationView:
    """An application with what is shown alongside it."""

    application: EnrollmentApplication
    disease: ChronicDisease
    patient_name: str | None
    records: list[EnrollmentRecord]
    entitlement: Entitlement | None


async def load_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID, *, lock: bool = False
) -> EnrollmentApplication:
    """An application in the caller's scope (not audited: callers audit what they do)."""
    application = await enrollment_repository.get_visible_application(
        session, principal, application_id, lock=lock
    )
    if application is None:
        raise NotFound()
    return application


async def views_of(
    session: AsyncSession, applications: list[EnrollmentApplication]
) -> list[ApplicationView]:
    """Applications with their diseases, patient names, records and entitlements."""
    ids = [a.id for a in applications]
    diseases = await enrollment_repository.diseases_by_id(
        session, [a.disease_id for a in applications]
    )
    names = await enrollment_repository.patient_names(session, [a.patient_id for a in applications])
    records = await enrollment_repository.records_of(session, ids)
    entitlements = await enrollment_repository.entitlement_by_application(session, ids)
    return [
        ApplicationView(
            a,
            diseases[a.disease_id],
            names.get(a.patient_id),
            records[a.id],
            entitlements.get(a.id),
        )
        for a in applications
    ]


async def get_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> ApplicationView:
    """One application the caller may see, audited."""
    application = await load_application(session, principal, application_id)
    await _audit(session, principal, AuditAction.read, application)
    return (await views_of(session, [application]))[0]


async def list_applications(
    session: AsyncSession,
    principal: Principal,
    status: str | None,
    after_id: uuid.UUID | None,
    limit: int,
) -> list[ApplicationView]:
    """The patient's own applications, or a reviewer's institutions' applications; audited."""
    rows = list(
        await enrollment_repository.list_visible_applications(
            session, principal, status, after_id, limit
        )
    )
    await audit_service.record_many(
        session,
        principal,
        AuditAction.read,
        APPLICATION_RESOURCE,
        [(a.id, a.patient_id) for a in rows],
    )
    return await views_of(session, rows)


async def create_application(
    session: AsyncSession,
    principal: Principal,
    body: ApplicationCreate,
    idempotency_key: str | None,
) -> ApplicationView:
    """Start a draft application; a replayed key returns the first one, an open one is 409."""
    assert principal.patient_id is not None
    patient_id = principal.patient_id
    if idempotency_key is not None:
        existing = await enrollment_repository.application_by_key(
            session, patient_id, idempotency_key
        )
        if existing is not None:
            return (await views_of(session, [existing]))[0]
    disease = await enrollment_repository.disease_by_code(session, body.disease_code)
    today = city_date()
    _check_diagnosed_year(body.diagnosed_year, today)
    if disease is None or await catalogue_service.listed_item(session, disease.id, today) is None:
        raise Conflict("disease_not_in_catalogue")
    institution = await by_id(session, Institution, body.institution_id)
    if institution is None or not institution.is_designated:
        raise Conflict("institution_not_designated")
    valid_until = await enrollment_repository.latest_validity(session, patient_id, disease.id)
    if valid_until is not None and valid_until > today + timedelta(days=RENEWAL_WINDOW_DAYS):
        raise Conflict("already_entitled")
    if await enrollment_repository.open_application_exists(session, patient_id, disease.id):
        raise Conflict("application_open")
    application = EnrollmentApplication(
        patient_id=patient_id,
        disease_id=disease.id,
        institution_id=institution.id,
        status="draft",
        statement=body.statement,
        diagnosed_year=body.diagnosed_year,
        idempotency_key=idempotency_key,
    )
    if not await add_unique(session, application):
        # A concurrent retry won the race: replay it, or refuse the second open application.
        if idempotency_key is not None:
            existing = await enrollment_repository.application_by_key(
                session, patient_id, idempotency_key
            )
            if existing is not None:
                return (await views_of(session, [existing]))[0]
        raise Conflict("application_open")
    await _audit(session, principal, AuditAction.create, application)
    return (await views_of(session, [application]))[0]


def _check_diagnosed_year(year: int | None, today: date) -> None:
    """A disease cannot have been diagnosed after this year (409 diagnosed_year_in_future)."""
    if year is not None and year > today.year:
        raise Conflict("diagnosed_year_in_future", year=today.year)


async def submit_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> ApplicationView:
    """Send a draft with its records to the institution's reviewers."""
    application = await _own_application(session, principal, application_id)
    target = require_status(application, "submit")
    if await enrollment_repository.record_count(session, application.id) == 0:
        raise Conflict("application_needs_records")
    application.status = target
    application.submitted_at = utcnow()
    await session.flush()
    await _audit(session, principal, AuditAction.update, application)
    return (await views_of(session, [application]))[0]


async def withdraw_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> ApplicationView:
    """The patient takes back a draft or pending application."""
    application = await _own_application(session, principal, application_id)
    application.status = require_status(application, "withdraw")
    await session.flush()
    await _audit(session, principal, AuditAction.update, application)
    return (await views_of(session, [application]))[0]


async def decide_application(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    application_id: uuid.UUID,
    body: DecisionCreate,
) -> ApplicationView:
    """A reviewer approves (creating the entitlement) or rejects with a reason; the patient is
    notified through the outbox."""
    assert principal.doctor_id is not None
    application = await load_application(session, principal, application_id, lock=True)
    if application.patient_id == principal.patient_id:
        raise NotFound()
    target = require_status(application, "approve" if body.approve else "reject")
    if not body.approve and not (body.reason and body.reason.strip()):
        raise Conflict("rejection_needs_reason")
    now = utcnow()
    today = city_date(now)
    listed = await catalogue_service.listed_item(session, application.disease_id, today)
    if body.approve and listed is None:
        raise Conflict("disease_not_in_catalogue")
    if body.approve and body.diagnosed_year is not None:
        _check_diagnosed_year(body.diagnosed_year, today)
        # The reviewer corrects the patient's year from the records: the course is theirs.
        application.diagnosed_year = body.diagnosed_year
    application.status = target
    application.decided_at = now
    application.decided_by_doctor_id = principal.doctor_id
    application.decision_reason = body.reason
    application.catalogue_edition_id = listed[0].id if listed is not None else None
    if body.approve:
        entitlement = await _grant_entitlement(
            session, settings, application, today, body.valid_until
        )
        await session.flush()
        # Claims under it are settled with the identity verified now (none yet: the bureau's
        # verification binds it later).
        await identity_service.bind_new_entitlement(session, entitlement, principal)
    await session.flush()
    await _audit(session, principal, AuditAction.update, application)
    await _notify_decision(session, application)
    return (await views_of(session, [application]))[0]


async def _grant_entitlement(
    session: AsyncSession,
    settings: Settings,
    application: EnrollmentApplication,
    today: date,
    valid_until: date | None,
) -> Entitlement:
    # A renewal starts the day after the current entitlement ends, so validity never overlaps.
    previous = await enrollment_repository.latest_validity(
        session, application.patient_id, application.disease_id
    )
    valid_from = max(today, previous + timedelta(days=1)) if previous is not None else today
    until = valid_until or valid_from + timedelta(days=settings.entitlement_validity_days - 1)
    if until < valid_from or until > today + timedelta(days=MAX_VALIDITY_DAYS):
        raise Conflict("validity_out_of_range", max_days=MAX_VALIDITY_DAYS)
    entitlement = Entitlement(
        patient_id=application.patient_id,
        disease_id=application.disease_id,
        institution_id=application.institution_id,
        application_id=application.id,
        valid_from=valid_from,
        valid_until=until,
    )
    session.add(entitlement)
    return entitlement


async def _notify_decision(session: AsyncSession, application: EnrollmentApplication) -> None:
    account_id = await enrollment_repository.patient_account_id(session, application.patient_id)
    if account_id is None:
        return
    await queue_push(
        session,
        PushNotification(
            recipient=str(account_id),
            template="enrollment_decided",
            data={
                "application_id": str(application.id),
                "status": application.status,
                "reason": application.decision_reason,
            },
            page=f"pages/enrollment/detail?id={application.id}",
        ),
        f"enrollment-decided:{application.id}",
    )


async def _own_application(
    session: AsyncSession, principal: Principal, application_id: uuid.UUID
) -> EnrollmentApplication:
    application = await load_application(session, principal, application_id, lock=True)
    if application.patient_id != principal.patient_id:
        raise NotFound()
    return application


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: AuditAction,
    application: EnrollmentApplication,
) -> None:
    await audit_service.record(
        session, principal, action, APPLICATION_RESOURCE, application.id, application.patient_id
    )


async def grant_reviewer(
    session: AsyncSession, principal: Principal, doctor_id: uuid.UUID
) -> EnrollmentReviewer:
    """Let a doctor review the applications made at their own institution (admin)."""
    doctor = await enrollment_repository.get_doctor(session, doctor_id)
    if doctor is None:
        raise NotFound("doctor_not_found")
    grant = EnrollmentReviewer(
        doctor_id=doctor.id,
        institution_id=doctor.institution_id,
        granted_by_account_id=principal.account_id,
    )
    if not await add_unique(session, grant):
        raise Conflict("reviewer_exists")
    return grant


async def revoke_reviewer(session: AsyncSession, doctor_id: uuid.UUID) -> None:
    """End a doctor's reviewer grants (admin); 404 if they had none."""
    if await enrollment_repository.revoke_reviewer(session, doctor_id, utcnow()) == 0:
        raise NotFound()


async def list_reviewers(session: AsyncSession) -> list[EnrollmentReviewer]:
    """Live reviewer grants."""
    return list(await enrollment_repository.list_reviewers(session))
