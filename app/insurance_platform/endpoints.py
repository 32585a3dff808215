"""The bureau's view of a statement as the insurance platform sees it (3201 and line by line)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.errors import Conflict
from app.insurance_platform import reconciliation
from app.insurance_platform.client import InsurancePlatform
from app.models import Role

router = APIRouter(prefix="/api/v1/insurance", tags=["insurance"])

BureauOnly = Annotated[Principal, require_roles(Role.bureau)]


class TotalsOut(BaseModel):
    count: int
    total_fen: int
    fund_fen: int
    account_fen: int


class TypeReconciliationOut(BaseModel):
    insurance_type: str
    statement: TotalsOut
    platform: TotalsOut
    balanced: bool
    platform_description: str
    msgid: str


class LineDifferenceOut(BaseModel):
    settlement_id: uuid.UUID
    kind: str
    setl_id: str | None
    local_fund_fen: int
    platform_fund_fen: int | None
    problem: str


class PlatformReconciliationOut(BaseModel):
    statement_id: uuid.UUID
    month: str
    by_type: list[TypeReconciliationOut]
    differences: list[LineDifferenceOut]


def _totals(totals: reconciliation.Totals) -> TotalsOut:
    return TotalsOut(**vars(totals))


@router.post(
    "/statements/{statement_id}/platform-reconciliation",
    response_model=PlatformReconciliationOut,
)
async def reconcile_statement_with_platform(
    statement_id: uuid.UUID, request: Request, principal: BureauOnly, session: DbSession
) -> PlatformReconciliationOut:
    """Reconcile the statement's month with the insurance platform: its totals per insurance
    type sent as 3201 (the platform answers balanced or not), and each line compared with the
    platform's settlement (`not_on_platform`, `split_differs`). 409
    `insurance_platform_not_configured` without a platform."""
    platform: InsurancePlatform | None = getattr(request.app.state, "insurance_platform", None)
    if platform is None:
        raise Conflict("insurance_platform_not_configured")
    found = await reconciliation.reconcile(
        session, principal, request.app.state.settings, platform, statement_id
    )
    return PlatformReconciliationOut(
        statement_id=found.statement_id,
        month=found.month,
        by_type=[
            TypeReconciliationOut(
                insurance_type=t.insurance_type,
                statement=_totals(t.local),
                platform=_totals(t.platform),
                balanced=t.balanced,
                platform_description=t.platform_description,
                msgid=t.msgid,
            )
            for t in found.by_type
        ],
        differences=[LineDifferenceOut(**vars(d)) for d in found.differences],
    )
