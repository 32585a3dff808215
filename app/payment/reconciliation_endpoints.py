"""The bureau's reconciliation of a monthly statement, and the statement's XLSX workbook that
lists its findings, under the insurance paths: both read the statement, the ledger and the
payments, so they sit with payment, the one package above both insurance and the ledger."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response

from app.authz.principal import Principal, require_roles
from app.db import DbSession
from app.insurance.schemas import Reconciliation
from app.kit.downloads import content_disposition
from app.models import Role
from app.payment import reconciliation as reconciliation_service
from app.payment import statement_workbook

router = APIRouter(prefix="/api/v1/insurance", tags=["insurance"])

Bureau = Annotated[Principal, require_roles(Role.bureau)]


@router.get("/statements/{statement_id}/reconciliation", response_model=Reconciliation)
async def reconcile_statement(
    statement_id: uuid.UUID, _: Bureau, session: DbSession
) -> Reconciliation:
    """Statement vs ledger vs payments, to the fen, with every difference listed."""
    return await reconciliation_service.reconcile(session, statement_id)


_STATEMENT_XLSX: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "The statement as an XLSX workbook, sent as an attachment named "
            "<机构名称>-<month>-医保结算对账单.xlsx (RFC 5987 filename*, with the ASCII fallback "
            "statement-<month>-<institution_id>.xlsx). Sheets: 汇总 (the institution, month, "
            "status, totals, payable and whether it reconciles, then the breakdown by disease "
            "and insurance type); one named after the institution with the CSV's lines and a "
            f"合计 line, columns {', '.join(statement_workbook.LINE_HEADERS)}; and 差异, columns "
            f"{', '.join(statement_workbook.DIFFERENCE_HEADERS)}: the statement "
            "reconciliation's differences and, where the insurance platform is connected, the "
            "lines it kept otherwise; only its header when there are none. Amounts are numbers "
            "in yuan with two decimals, exact to the fen; times are Asia/Shanghai wall times."
        ),
        "content": {statement_workbook.MEDIA_TYPE: {}},
    }
}


@router.get(
    "/statements/{statement_id}/export.xlsx",
    response_class=Response,
    responses=_STATEMENT_XLSX,
)
async def export_statement_xlsx(
    statement_id: uuid.UUID, request: Request, _: Bureau, session: DbSession
) -> Response:
    """The statement as the bureau's XLSX workbook: summary, lines, differences."""
    connected = getattr(request.app.state, "insurance_platform", None) is not None
    found = await statement_workbook.statement_workbook(session, statement_id, connected)
    month, institution = found.statement.month, found.institution
    return Response(
        content=found.content,
        media_type=statement_workbook.MEDIA_TYPE,
        headers={
            "Content-Disposition": content_disposition(
                statement_workbook.filename(institution, month),
                f"statement-{month}-{institution.id}.xlsx",
            )
        },
    )
