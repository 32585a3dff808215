"""Quality-return endpoints: the patient or the store opens one on a handed-over order, the
store's pharmacist accepts or rejects it, checks the boxes back in and completes it (reversal
and refund); the patient may withdraw it until the boxes are back. Someone else's return or
order is 404; a role that never takes a step is 403; an illegal step is 409."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from app.authz.principal import CurrentPrincipal, Principal, require_roles
from app.db import DbSession
from app.i18n import translate
from app.idempotency import IdempotencyKey
from app.kit.pagination import PageQuery
from app.models import QualityReturn, Role
from app.pharmacy.returns import service as returns_service
from app.pharmacy.returns.schemas import (
    QualityReturnCreate,
    QualityReturnOut,
    QualityReturnPage,
    ReturnBoxesIn,
    ReturnBoxesOut,
    ReturnBoxOut,
    ReturnNoteIn,
    ReturnRejectIn,
)
from app.pharmacy.returns.states import ReturnStatus
from app.pharmacy.returns.views import present_returns

# Mounted under /api/v1 by the pharmacy router.
router = APIRouter(prefix="/api/v1", tags=["pharmacy", "quality returns"])

PatientOrPharmacist = Annotated[Principal, require_roles(Role.patient, Role.pharmacist)]
StorePharmacist = Annotated[Principal, require_roles(Role.pharmacist)]
PatientOnly = Annotated[Principal, require_roles(Role.patient)]


async def _locked(
    return_id: uuid.UUID, principal: CurrentPrincipal, session: DbSession
) -> QualityReturn:
    return await returns_service.get_return(session, principal, return_id, lock=True)


# Routes name the role guard before the return, so a role that never takes the step is 403
# before any lookup; then someone else's return is 404.
Locked = Annotated[QualityReturn, Depends(_locked)]


async def _out(session: DbSession, row: QualityReturn) -> QualityReturnOut:
    return (await present_returns(session, [row]))[0]


@router.post(
    "/orders/{order_id}/quality-returns",
    response_model=QualityReturnOut,
    status_code=status.HTTP_201_CREATED,
)
async def open_quality_return(
    order_id: uuid.UUID, body: QualityReturnCreate, principal: PatientOrPharmacist,
    request: Request, session: DbSession, key: IdempotencyKey = None,
) -> QualityReturnOut:  # fmt: skip
    """Open a quality return (药品质量问题) on a handed-over order, with the reason."""
    row = await returns_service.open_return(
        session, request.app.state.settings, principal, order_id, body.reason, key
    )
    return await _out(session, row)


@router.get("/quality-returns", response_model=QualityReturnPage)
async def list_quality_returns(
    principal: PatientOrPharmacist,
    session: DbSession,
    page: PageQuery,
    status_filter: Annotated[list[ReturnStatus] | None, Query(alias="status")] = None,
    order_id: uuid.UUID | None = None,
) -> QualityReturnPage:
    """My returns (patient) or my store's (pharmacist), newest first."""
    resume = page.after(datetime, uuid.UUID)
    rows = await returns_service.list_returns(
        session,
        principal,
        status_filter or [],
        order_id,
        page.limit,
        (resume[0], resume[1]) if resume else None,
    )
    found = page.page(rows, lambda r: (r.created_at, r.id))
    return QualityReturnPage(items=await present_returns(session, found.items), next=found.next)


@router.get("/quality-returns/{return_id}", response_model=QualityReturnOut)
async def get_quality_return(
    return_id: uuid.UUID, principal: PatientOrPharmacist, session: DbSession
) -> QualityReturnOut:
    """One return with its boxes, reversal, refunds and every step."""
    return await _out(session, await returns_service.get_return(session, principal, return_id))


@router.post("/quality-returns/{return_id}/accept", response_model=QualityReturnOut)
async def accept_quality_return(
    principal: StorePharmacist, row: Locked, session: DbSession,
    body: ReturnNoteIn | None = None, key: IdempotencyKey = None,
) -> QualityReturnOut:  # fmt: skip
    """The store agrees: the patient may bring the boxes back."""
    note = (body or ReturnNoteIn()).note
    await returns_service.move(session, principal, row, ReturnStatus.accepted, note, key)
    return await _out(session, row)


@router.post("/quality-returns/{return_id}/reject", response_model=QualityReturnOut)
async def reject_quality_return(
    principal: StorePharmacist, row: Locked, body: ReturnRejectIn, session: DbSession,
    key: IdempotencyKey = None,
) -> QualityReturnOut:  # fmt: skip
    """The store refuses, with the reason (only before any box has come back)."""
    await returns_service.move(session, principal, row, ReturnStatus.rejected, body.reason, key)
    return await _out(session, row)


@router.post("/quality-returns/{return_id}/withdraw", response_model=QualityReturnOut)
async def withdraw_quality_return(
    principal: PatientOnly, row: Locked, session: DbSession,
    body: ReturnNoteIn | None = None, key: IdempotencyKey = None,
) -> QualityReturnOut:  # fmt: skip
    """The patient drops the return (only before any box has come back)."""
    note = (body or ReturnNoteIn()).note
    await returns_service.move(session, principal, row, ReturnStatus.withdrawn, note, key)
    return await _out(session, row)


@router.post("/quality-returns/{return_id}/boxes", response_model=ReturnBoxesOut)
async def check_in_returned_boxes(
    principal: StorePharmacist, row: Locked, body: ReturnBoxesIn, session: DbSession
) -> ReturnBoxesOut:
    """Check the returned boxes in by traceability code; per box accepted, duplicate or
    rejected with a reason."""
    results = await returns_service.check_in_boxes(session, principal, row, body.codes)
    view = await _out(session, row)
    return ReturnBoxesOut(
        items=[
            ReturnBoxOut(
                code=r.code,
                outcome=r.outcome,
                reason=r.reason,
                message=None if r.reason is None else translate(r.reason),
            )
            for r in results
        ],
        complete=set(view.codes_sold) <= set(view.codes_returned),
        quality_return=view,
    )


@router.post("/quality-returns/{return_id}/complete", response_model=QualityReturnOut)
async def complete_quality_return(
    principal: StorePharmacist, row: Locked, session: DbSession,
    body: ReturnNoteIn | None = None, key: IdempotencyKey = None,
) -> QualityReturnOut:  # fmt: skip
    """Every box is back: the settlement is reversed (fund share and quota restored) and what
    the patient paid is refunded."""
    note = (body or ReturnNoteIn()).note
    await returns_service.complete(session, principal, row, note, key)
    return await _out(session, row)
