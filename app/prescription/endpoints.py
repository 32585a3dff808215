"""Prescription endpoints: the formulary, writing and signing (doctor), review (hospital
pharmacist), renewal and revocation. Anything outside the caller's scope answers 404; routes
with a body resolve the prescription first (a dependency) so a malformed request cannot probe
ids either."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.errors import NotFound
from app.idempotency import IdempotencyKey
from app.kit.pagination import Page, PageQuery
from app.models import Prescription, Role
from app.prescription import formulary
from app.prescription import repository as rx_repository
from app.prescription import service as rx_service
from app.prescription.schemas import (
    FormularyItemIn,
    FormularyItemOut,
    PrescriptionCreate,
    PrescriptionOut,
    PrescriptionPage,
    PrescriptionReviewerCreate,
    PrescriptionReviewerOut,
    PrescriptionRevise,
    Reason,
    Renewal,
    SignatureIn,
    SigningPayloadOut,
)
from app.prescription.views import present, present_formulary, present_payload

router = APIRouter(prefix="/api/v1", tags=["prescriptions"])

Doctor = Annotated[Principal, require_roles(Role.doctor)]
Pharmacist = Annotated[Principal, require_roles(Role.pharmacist)]
Admin = Annotated[Principal, require_roles(Role.admin)]
Reader = Annotated[Principal, require_roles(Role.patient, Role.doctor, Role.pharmacist)]


async def _visible(
    prescription_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> Prescription:
    prescription = await rx_repository.get_visible(session, principal, prescription_id)
    if prescription is None:
        raise NotFound()
    return prescription


Visible = Annotated[Prescription, Depends(_visible)]


async def _out(session: DbSession, prescription: Prescription) -> PrescriptionOut:
    return await present(
        session, prescription, await rx_repository.items_of(session, prescription.id)
    )


@router.get("/formulary/{disease_id}", response_model=Page[FormularyItemOut])
async def list_formulary(
    disease_id: uuid.UUID, _: CurrentPrincipal, session: DbSession, page: PageQuery
) -> Page[FormularyItemOut]:
    """The drugs the online service may prescribe for a catalogue disease."""
    items = await present_formulary(session, await formulary.list_items(session, disease_id))
    return page.page_in_order(items, lambda f: f.drug_id)


@router.put("/formulary/{disease_id}/drugs/{drug_id}", response_model=FormularyItemOut)
async def put_formulary_item(
    disease_id: uuid.UUID, drug_id: uuid.UUID, body: FormularyItemIn, _: Admin, session: DbSession
) -> FormularyItemOut:
    """Add a drug to a disease's formulary, or change its dose ceiling and class (admin)."""
    row = await formulary.put_item(session, disease_id, drug_id, body)
    return (await present_formulary(session, [row]))[0]


@router.post("/prescription-reviewers", response_model=PrescriptionReviewerOut)
async def add_reviewer(
    body: PrescriptionReviewerCreate, _: Admin, session: DbSession
) -> PrescriptionReviewerOut:
    """Make a hospital pharmacist the reviewer of an institution's prescriptions (admin)."""
    return PrescriptionReviewerOut.model_validate(await formulary.add_reviewer(session, body))


@router.post("/prescriptions", response_model=PrescriptionOut, status_code=status.HTTP_201_CREATED)
async def create_prescription(
    body: PrescriptionCreate,
    principal: Doctor,
    request: Request,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> PrescriptionOut:
    """Write a prescription for a patient in my care (a draft until signed)."""
    draft = rx_service.Draft(body.diagnosis_zh, body.is_long, body.valid_days, body.items)
    prescription = await rx_service.create(
        session, request.app.state.settings, principal, body.patient_id, body.disease_id, draft,
        visit_kind=body.visit_kind, consultation_id=body.consultation_id,
        idempotency_key=idempotency_key,
    )  # fmt: skip
    return await _out(session, prescription)


@router.get("/prescriptions", response_model=PrescriptionPage)
async def list_prescriptions(
    principal: Reader,
    session: DbSession,
    page: PageQuery,
    status_filter: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    patient_id: uuid.UUID | None = None,
) -> PrescriptionPage:
    """Prescriptions I may see, newest first: my own (patient), my patients' (doctor), my
    review queue (hospital pharmacist, e.g. ?status=pending_review)."""
    resume = page.after(datetime, uuid.UUID)
    rows = await rx_service.list_prescriptions(
        session,
        principal,
        status_filter,
        patient_id,
        page.limit,
        (resume[0], resume[1]) if resume else None,
    )
    found = page.page(rows, lambda row: (row[0].created_at, row[0].id))
    return PrescriptionPage(
        items=[
            await present(session, row, items, with_history=False) for row, items in found.items
        ],
        next=found.next,
    )


@router.get("/prescriptions/{prescription_id}", response_model=PrescriptionOut)
async def get_prescription(
    prescription_id: uuid.UUID, principal: Reader, session: DbSession
) -> PrescriptionOut:
    """One prescription, its signature verified (409 prescription_tampered if not)."""
    prescription, items = await rx_service.get(session, principal, prescription_id)
    return await present(session, prescription, items)


@router.get("/prescriptions/{prescription_id}/signing-payload", response_model=SigningPayloadOut)
async def get_signing_payload(
    prescription: Visible, principal: Doctor, session: DbSession
) -> SigningPayloadOut:
    """The exact bytes my device signs for my draft (canonical JSON, with my active key's id
    and the signing time); 409 signing_key_missing until an admin has activated my key."""
    payload = await rx_service.signing_payload(session, principal, prescription.id)
    return present_payload(prescription, payload)


@router.post("/prescriptions/{prescription_id}/sign", response_model=PrescriptionOut)
async def sign_prescription(
    prescription: Visible, body: SignatureIn, principal: Doctor, session: DbSession
) -> PrescriptionOut:
    """Sign my draft: the signature my device made over the signing payload is verified
    against my active key, the content is sealed and it goes to the pharmacist."""
    signed = await rx_service.sign(
        session, principal, prescription.id, body.signed_content, body.signature
    )
    return await _out(session, signed)


@router.post("/prescriptions/{prescription_id}/revise", response_model=PrescriptionOut)
async def revise_prescription(
    prescription: Visible,
    body: PrescriptionRevise,
    principal: Doctor,
    request: Request,
    session: DbSession,
) -> PrescriptionOut:
    """Rewrite my prescription the pharmacist returned; it is a draft again."""
    draft = rx_service.Draft(
        body.diagnosis_zh or prescription.diagnosis_zh,
        prescription.is_long if body.is_long is None else body.is_long,
        body.valid_days or prescription.valid_days,
        body.items,
    )
    revised = await rx_service.revise(
        session, request.app.state.settings, principal, prescription.id, draft
    )
    return await _out(session, revised)


@router.post("/prescriptions/{prescription_id}/approve", response_model=PrescriptionOut)
async def approve_prescription(
    prescription: Visible, principal: Pharmacist, request: Request, session: DbSession
) -> PrescriptionOut:
    """Approve a signed prescription (reviewing pharmacist of its institution)."""
    approved = await rx_service.approve(session, principal, prescription.id)
    return await _out(session, approved)


@router.post("/prescriptions/{prescription_id}/reject", response_model=PrescriptionOut)
async def reject_prescription(
    prescription: Visible, body: Reason, principal: Pharmacist, request: Request,
    session: DbSession,
) -> PrescriptionOut:  # fmt: skip
    """Return a signed prescription to its doctor with the reason."""
    rejected = await rx_service.reject(session, principal, prescription.id, body.reason)
    return await _out(session, rejected)


@router.post("/prescriptions/{prescription_id}/revoke", response_model=PrescriptionOut)
async def revoke_prescription(
    prescription: Visible, body: Reason, principal: Doctor, request: Request, session: DbSession
) -> PrescriptionOut:
    """Revoke my prescription before it is dispensed (an open order is cancelled)."""
    revoked = await rx_service.revoke(session, principal, prescription.id, body.reason)
    return await _out(session, revoked)


@router.post(
    "/prescriptions/{prescription_id}/renewals",
    response_model=PrescriptionOut,
    status_code=status.HTTP_201_CREATED,
)
async def renew_prescription(
    prescription: Visible,
    body: Renewal,
    principal: Doctor,
    request: Request,
    session: DbSession,
    idempotency_key: IdempotencyKey = None,
) -> PrescriptionOut:
    """Renew a dispensed long prescription; the renewal references it."""
    renewal = await rx_service.renew(
        session, request.app.state.settings, principal, prescription.id, body.diagnosis_zh,
        body.valid_days, body.items, idempotency_key,
    )  # fmt: skip
    return await _out(session, renewal)
