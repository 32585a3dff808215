"""Insured identity endpoints: the patient declares and sees the comparison; a bureau clerk
verifies (audited) and works the review queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.errors import Conflict
from app.idempotency import IdempotencyKey
from app.identity import service as identity_service
from app.identity.schemas import (
    DeclarationCreate,
    DeclarationOut,
    DeclarationReceipt,
    IdentityStatus,
    PlatformVerificationCreate,
    ReviewItem,
    ReviewPage,
    VerificationCreate,
    VerifiedIdentityOut,
    verified_out,
)
from app.identity.sources import InsuredIdentitySource, staff_attestation
from app.kit.pagination import PageQuery
from app.models import Role

router = APIRouter(tags=["insured identity"])

PatientOnly = Annotated[Principal, require_roles(Role.patient)]
# Bureau clerks hold the insurer's records: they alone attest an insured identity.
BureauOnly = Annotated[Principal, require_roles(Role.bureau)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _status_body(found: identity_service.Status, *, reveal: bool) -> IdentityStatus:
    return IdentityStatus(
        declared=None
        if found.declared is None
        else DeclarationOut.of(found.declared, reveal=reveal),
        verified=None
        if found.verified is None
        else verified_out(found.verified, found.available_fen),
        differences=found.differences,
        settleable=found.differences == [],
    )


@router.post(
    "/api/v1/patients/me/identity/declarations",
    response_model=DeclarationReceipt,
    status_code=status.HTTP_202_ACCEPTED,
)
async def declare_identity(
    body: DeclarationCreate,
    request: Request,
    principal: PatientOnly,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> DeclarationReceipt:
    """Declare my insured identity. It is compared with the identity the insurance office
    verifies; settlement needs both to agree. Always answered 202 `received`."""
    row = await identity_service.declare(
        session, request.app.state.settings, principal, body, idempotency_key
    )
    return DeclarationReceipt(id=row.id, declared_at=row.declared_at)


@router.get("/api/v1/patients/me/identity", response_model=IdentityStatus)
async def get_my_identity(principal: PatientOnly, session: DbSession) -> IdentityStatus:
    """My latest declaration beside my verified insured identity, and whether they agree."""
    return _status_body(await identity_service.patient_status(session, principal), reveal=True)


@router.get("/api/v1/identity/patients/{patient_id}", response_model=IdentityStatus)
async def get_patient_identity(
    patient_id: uuid.UUID, principal: BureauOnly, session: DbSession
) -> IdentityStatus:
    """A patient's declared and verified identity, compared (bureau)."""
    found = await identity_service.staff_status(session, principal, patient_id)
    return _status_body(found, reveal=True)


@router.post(
    "/api/v1/identity/patients/{patient_id}/verifications",
    response_model=VerifiedIdentityOut,
    status_code=status.HTTP_201_CREATED,
)
async def verify_patient_identity(
    patient_id: uuid.UUID,
    body: VerificationCreate,
    request: Request,
    principal: BureauOnly,
    session: DbSession,
) -> VerifiedIdentityOut:
    """Record the insured identity the clerk verified in the insurer's records (audited). It
    supersedes the one in force and is bound to the patient's unexpired entitlements. Where
    the insurance platform is configured its person query is the source instead: 409
    `identity_verified_by_platform`."""
    if _platform_source(request) is not None:
        raise Conflict("identity_verified_by_platform")
    record = staff_attestation(
        national_id=body.national_id,
        insurance_type=body.insurance_type,
        insured_area=body.insured_area,
        personal_account=body.personal_account,
        personal_account_balance_fen=body.personal_account_balance_fen,
        reference=body.reference,
    )
    row = await identity_service.record_verified(session, principal, patient_id, record)
    return verified_out(row, await identity_service.account_available_fen(session, row))


def _platform_source(request: Request) -> InsuredIdentitySource | None:
    """The insurance platform's person query when the platform is configured (app.main)."""
    source: InsuredIdentitySource | None = getattr(request.app.state, "identity_source", None)
    return source


@router.post(
    "/api/v1/identity/patients/{patient_id}/platform-verifications",
    response_model=VerifiedIdentityOut,
    status_code=status.HTTP_201_CREATED,
)
async def verify_patient_identity_on_platform(
    patient_id: uuid.UUID,
    body: PlatformVerificationCreate,
    request: Request,
    principal: BureauOnly,
    session: DbSession,
) -> VerifiedIdentityOut:
    """Ask the insurance platform (person query 1101) about the patient and record its answer
    as the verified identity: insurance type, insured area and personal-account balance are
    the platform's, never the clerk's or the patient's (audited, bound to the unexpired
    entitlements). 409 `insurance_platform_not_configured` where the platform is not set up;
    404 `insured_person_not_found` when it knows no current 310/390 insurance there; 502/504
    when it refuses or does not answer."""
    source = _platform_source(request)
    if source is None:
        raise Conflict("insurance_platform_not_configured")
    row = await identity_service.verify_from_source(
        session, principal, patient_id, source, body.national_id, body.insured_area
    )
    return verified_out(row, await identity_service.account_available_fen(session, row))


@router.get("/api/v1/identity/reviews", response_model=ReviewPage)
async def list_identity_reviews(
    principal: BureauOnly, session: DbSession, page: PageQuery
) -> ReviewPage:
    """Declarations of a certificate number another patient holds, newest first (bureau)."""
    after = page.after(datetime, uuid.UUID)
    rows = await identity_service.review_queue(
        session, principal, (after[0], after[1]) if after else None, page.limit
    )
    found = page.page(rows, lambda row: (row.declared_at, row.id))
    items = [
        ReviewItem(
            declaration_id=r.id, patient_id=r.patient_id, declared=DeclarationOut.of(r, reveal=True)
        )
        for r in found.items
    ]
    return ReviewPage(items=items, next=found.next)
