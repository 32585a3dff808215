"""A monthly statement reconciled with the platform: 3201 (对总账) per insurance type with the
totals the platform booked for this institution, and the statement's lines compared one by one
with the platform's settlements, each difference shown.

3201 input `data`: insutype, clr_type (11 门诊), setl_optins (the clearing area), stmt_begndate,
stmt_enddate (yyyy-MM-dd), medfee_sumamt, fund_pay_sumamt, acct_pay, fixmedins_setl_cnt;
output `stmtinfo`: setl_optins, stmt_rslt (0 平, 1 不平), stmt_rslt_dscr. The line comparison is
the service's own (the platform's 3202 detail reconciliation exchanges files through 9101/9102,
not built yet).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.errors import NotFound
from app.insurance import statement_repository
from app.insurance.statements import RESOURCE, month_window
from app.insurance_platform import repository
from app.insurance_platform.client import InsurancePlatform
from app.insurance_platform.persons import INSURANCE_TYPES
from app.kit.money import fen_to_yuan
from app.models import PlatformSettlement, Settlement

TOTALS = "3201"
OUTPATIENT = "11"  # 清算类别 11: 普通门诊
BALANCED = "0"


@dataclass
class Totals:
    count: int = 0
    total_fen: int = 0
    fund_fen: int = 0
    account_fen: int = 0

    def add(self, sign: int, total: int, fund: int, account: int) -> None:
        self.count += sign
        self.total_fen += total
        self.fund_fen += fund
        self.account_fen += account


@dataclass(frozen=True)
class TypeReconciliation:
    """One insurance type: the statement's totals, the platform's, and the platform's verdict
    on the latter (3201)."""

    insurance_type: str
    local: Totals
    platform: Totals
    balanced: bool
    platform_description: str
    msgid: str


@dataclass(frozen=True)
class LineDifference:
    """A statement line the platform sees otherwise."""

    settlement_id: uuid.UUID
    kind: str
    setl_id: str | None
    local_fund_fen: int
    platform_fund_fen: int | None
    # not_on_platform: settled here only; split_differs: the platform paid another fund share.
    problem: str


@dataclass(frozen=True)
class Reconciliation:
    statement_id: uuid.UUID
    month: str
    by_type: list[TypeReconciliation] = field(default_factory=list)
    differences: list[LineDifference] = field(default_factory=list)


def _difference(row: Settlement, kept: PlatformSettlement | None) -> LineDifference | None:
    if kept is None:
        return LineDifference(row.id, row.kind, None, row.fund_fen, None, "not_on_platform")
    if kept.fund_difference_fen:
        return LineDifference(
            row.id, row.kind, kept.setl_id, row.fund_fen, kept.fund_fen, "split_differs"
        )
    return None


def _differences(
    rows: Sequence[Settlement], kept: dict[uuid.UUID, PlatformSettlement]
) -> list[LineDifference]:
    found = (_difference(row, kept.get(row.id)) for row in rows)
    return [difference for difference in found if difference is not None]


async def line_differences(
    session: AsyncSession, rows: Sequence[Settlement]
) -> list[LineDifference]:
    """The statement lines the platform sees otherwise, judged from the platform settlements
    kept here without calling the platform (the bureau's workbook lists them too)."""
    return _differences(
        rows, await repository.platform_settlements_for(session, [r.id for r in rows])
    )


async def reconcile(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    platform: InsurancePlatform,
    statement_id: uuid.UUID,
) -> Reconciliation:
    """Reconcile a statement's month with the platform (audited as a read of the statement)."""
    statement = await statement_repository.get_statement(session, statement_id)
    if statement is None:
        raise NotFound()
    rows = await statement_repository.statement_settlements(session, statement.id)
    kept = await repository.platform_settlements_for(session, [r.id for r in rows])
    local: dict[str, Totals] = defaultdict(Totals)
    booked: dict[str, Totals] = defaultdict(Totals)
    for row in rows:
        sign = 1 if row.kind == "settlement" else -1
        local[row.insurance_type].add(sign, row.total_fen, row.fund_fen, row.account_fen)
        mine = kept.get(row.id)
        if mine is not None:
            booked[row.insurance_type].add(sign, mine.total_fen, mine.fund_fen, mine.account_fen)
    start, end = month_window(statement.month)
    result = Reconciliation(statement.id, statement.month, differences=_differences(rows, kept))
    # Both insurance types are asked, with zeros where the statement has none: bookings the
    # platform made that this service never saw show up too.
    for insurance_type in INSURANCE_TYPES:
        totals = booked[insurance_type]
        answer = await platform.call(
            TOTALS,
            {
                "data": {
                    "insutype": insurance_type,
                    "clr_type": OUTPATIENT,
                    "setl_optins": settings.insurance_platform_area,
                    "stmt_begndate": f"{start:%Y-%m-%d}",
                    "stmt_enddate": f"{end - timedelta(days=1):%Y-%m-%d}",
                    "medfee_sumamt": fen_to_yuan(totals.total_fen),
                    "fund_pay_sumamt": fen_to_yuan(totals.fund_fen),
                    "acct_pay": fen_to_yuan(totals.account_fen),
                    "fixmedins_setl_cnt": totals.count,
                }
            },
            subject=f"statement:{statement.id}",
        )
        verdict = answer.output.get("stmtinfo") or {}
        result.by_type.append(
            TypeReconciliation(
                insurance_type=insurance_type,
                local=local[insurance_type],
                platform=totals,
                balanced=str(verdict.get("stmt_rslt")) == BALANCED,
                platform_description=str(verdict.get("stmt_rslt_dscr") or ""),
                msgid=answer.msgid,
            )
        )
    await audit_service.record(session, principal, AuditAction.read, RESOURCE, statement.id, None)
    return result
