"""The bureau's view of a statement as the insurance platform sees it (3201 and line by line)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

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


class PlatformLineOut(BaseModel):
    """A line the platform's detail reconciliation (3202) disputes, as the platform sees it."""

    setl_id: str
    mdtrt_id: str
    msgid: str = Field(description="The settlement message as the platform booked it")
    reversal: bool = Field(description="refd_setl_flag: the line is a reversal (2208)")
    result: str = Field(description="stmt_rslt as the platform writes it")
    memo: str = Field(description="The platform's note, e.g. 中心有，医药机构无 or 金额不一致")
    total_fen: int
    fund_fen: int
    account_fen: int


class DetailReconciliationOut(BaseModel):
    balanced: bool
    file_qury_no: str = Field(description="The detail file uploaded with 9101")
    msgid: str
    lines: list[PlatformLineOut]


class PlatformReconciliationOut(BaseModel):
    statement_id: uuid.UUID
    month: str
    by_type: list[TypeReconciliationOut]
    detail: DetailReconciliationOut
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
    type sent as 3201 (the platform answers balanced or not), its platform settlements as a
    detail file (9101) reconciled line by line by the platform (3202, the disputed lines read
    from its result file via 9102), and each line compared with the platform's settlement here
    (`not_on_platform`, `split_differs`). 409
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
        detail=DetailReconciliationOut(
            balanced=found.detail.balanced,
            file_qury_no=found.detail.file_qury_no,
            msgid=found.detail.msgid,
            lines=[PlatformLineOut(**vars(line)) for line in found.detail.lines],
        ),
        differences=[LineDifferenceOut(**vars(d)) for d in found.differences],
    )
