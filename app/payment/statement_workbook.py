"""The bureau's monthly statement as an XLSX workbook: a 汇总 sheet (the statement's totals,
its breakdown by disease and insurance type, whether it reconciles), one sheet of lines named
after the institution, and a 差异 sheet with every reconciliation finding.

A statement belongs to one designated institution, so the workbook has one institution sheet;
the summary comes first because it is what a clerk checks against the payment order before
reading lines. The lines are those of the CSV (`statements.export_lines`) with Chinese headers,
amounts in yuan and times in Asia/Shanghai; the differences are those of the statement
reconciliation (statement vs ledger vs payments) and, where the insurance platform is
connected, the lines the platform kept otherwise. It sits with payment because it reads the
reconciliation, which does.

Amounts are written as Decimal yuan converted exactly from integer fen (never through a
float) with a 0.00 format, so the sheet sums to the fen. Patients appear by their id only, as
in the CSV: a workbook is mailed and printed, and names or ID numbers do not belong in it.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound
from app.insurance import statements as statement_service
from app.insurance.schemas import Difference, Reconciliation
from app.insurance.statements import ExportLine, StatementView, export_lines
from app.insurance_platform import reconciliation as platform_reconciliation
from app.insurance_platform.reconciliation import LineDifference
from app.kit.clock import to_shanghai
from app.models import Institution, Statement
from app.payment import reconciliation as reconciliation_service
from app.reference import repository as reference_repository

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SUMMARY_SHEET = "汇总"
DIFFERENCES_SHEET = "差异"
YUAN_FORMAT = "0.00"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# Excel refuses these in a sheet name and cuts names at 31 characters.
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_SHEET_NAME_LENGTH = 31

LINE_HEADERS = (
    "结算时间（北京时间）",
    "类型",
    "结算ID",
    "被冲正结算ID",
    "交易流水号",
    "订单ID",
    "患者ID",
    "病种编码",
    "险种",
    "医疗类别",
    "医疗费总额（元）",
    "统筹基金支付（元）",
    "个人账户支付（元）",
    "个人现金支付（元）",
    "审核",
    "应拨付（元）",
)
BREAKDOWN_HEADERS = (
    "病种编码",
    "险种",
    "结算笔数",
    "冲正笔数",
    "医疗费总额（元）",
    "统筹基金支付（元）",
    "个人账户支付（元）",
    "个人现金支付（元）",
)
DIFFERENCE_HEADERS = (
    "来源",
    "差异类型",
    "结算ID",
    "支付ID",
    "平台结算号",
    "应为（元）",
    "实为（元）",
    "差额（元）",
    "说明",
)

KINDS = {
    "settlement": "结算",
    "reversal": "冲正",
    "released": "暂缓后补付",
    "carried_in": "结转转入",
}
REVIEWS = {"disputed": "争议暂缓", "flagged": "计入后被标记", "": ""}
STATUSES = {
    "generated": "已生成",
    "confirmed": "已确认",
    "paid": "已拨付",
    "recovered": "已追回",
    "carried": "已结转",
}
INSURANCE_TYPES = {"310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
LEDGER_SOURCE = "账务对账"
PLATFORM_SOURCE = "医保平台"
DIFFERENCE_KINDS = {
    "statement_total": "对账单合计与明细不符",
    "ledger_line": "结算与账务分录不符",
    "missing_from_statement": "当月结算未列入对账单",
    "unbalanced_transaction": "账务交易借贷不平",
    "payment_ledger": "支付记录与账务不符",
    "personal_share_unpaid": "个人自付未收齐",
    "personal_share_overpaid": "个人自付多收",
    "remittance": "拨付金额与应拨付不符",
    "not_on_platform": "平台无此结算",
    "split_differs": "平台统筹基金支付不同",
}


def yuan(fen: int) -> Decimal:
    """Integer fen as exact yuan with two places (Decimal arithmetic only)."""
    return Decimal(fen).scaleb(-2)


def sheet_title(institution: Institution) -> str:
    """The institution's sheet: its Chinese name as Excel allows a sheet name."""
    return _SHEET_NAME_FORBIDDEN.sub("_", institution.name_zh)[:_SHEET_NAME_LENGTH]


def filename(institution: Institution, month: str) -> str:
    """The download's name, in Chinese as the clerk files it."""
    return f"{institution.name_zh}-{month}-医保结算对账单.xlsx"


# Column widths (in characters) wide enough for ids, times and amounts without widening.
LINE_WIDTHS = (20, 10, 38, 38, 26, 38, 38, 10, 8, 8, 16, 18, 18, 18, 24, 14)
SUMMARY_WIDTHS = (22, 44, 10, 10, 16, 18, 18, 18)
DIFFERENCE_WIDTHS = (10, 22, 38, 38, 22, 12, 12, 12, 32)


@dataclass(frozen=True)
class _Cells:
    """Makes the cells of one write-only sheet: headers bold, yuan and times formatted."""

    # A write-only sheet (openpyxl has no type information to name it by).
    sheet: Any

    def widths(self, widths: Iterable[int]) -> None:
        # A write-only sheet takes column settings only before its first row.
        for index, width in enumerate(widths, start=1):
            self.sheet.column_dimensions[get_column_letter(index)].width = width

    def header(self, titles: Iterable[str]) -> list[WriteOnlyCell]:
        cells = []
        for title in titles:
            cell = WriteOnlyCell(self.sheet, value=title)
            cell.font = Font(bold=True)
            cells.append(cell)
        return cells

    def money(self, fen: int | None) -> WriteOnlyCell | None:
        if fen is None:
            return None
        cell = WriteOnlyCell(self.sheet, value=yuan(fen))
        cell.number_format = YUAN_FORMAT
        return cell

    def time(self, moment: datetime) -> WriteOnlyCell:
        # Excel has no time zones: the Shanghai wall time, as the header says.
        cell = WriteOnlyCell(self.sheet, value=to_shanghai(moment).replace(tzinfo=None))
        cell.number_format = TIME_FORMAT
        return cell


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _review(line: ExportLine) -> str:
    if line.kind == "released":
        return f"{line.month} 争议暂缓，已确认"
    if line.kind == "carried_in":
        return f"{line.month} 应拨付为负，结转"
    return REVIEWS[line.review]


def _line_row(cells: _Cells, line: ExportLine) -> list[Any]:
    amounts: Sequence[int | None] = line.amounts_fen or (None,) * 4
    return [
        cells.time(line.at),
        KINDS[line.kind],
        str(line.subject_id),
        _text(line.reverses_id),
        line.message_id,
        _text(line.order_id),
        _text(line.patient_id),
        line.disease_code or None,
        line.insurance_type,
        line.med_type,
        *(cells.money(fen) for fen in amounts),
        _review(line),
        cells.money(line.payable_fen),
    ]


def _write_lines(book: Workbook, title: str, current: StatementView) -> None:
    statement = current.statement
    sheet = book.create_sheet(title)
    cells = _Cells(sheet)
    cells.widths(LINE_WIDTHS)
    sheet.freeze_panes = "A2"
    sheet.append(cells.header(LINE_HEADERS))
    for line in export_lines(current):
        sheet.append(_line_row(cells, line))
    sheet.append(
        [
            f"合计 {statement.month}",
            f"结算 {statement.settlement_count} 笔 / 冲正 {statement.reversal_count} 笔",
            *([None] * 8),
            *(
                cells.money(fen)
                for fen in (
                    statement.total_fen,
                    statement.fund_fen,
                    statement.account_fen,
                    statement.cash_fen,
                )
            ),
            None,
            cells.money(statement.payable_fen),
        ]
    )


def _write_summary(
    book: Workbook,
    institution: Institution,
    current: StatementView,
    reconciliation: Reconciliation,
    platform: Sequence[LineDifference],
) -> None:
    statement = current.statement
    sheet = book.create_sheet(SUMMARY_SHEET)
    cells = _Cells(sheet)
    cells.widths(SUMMARY_WIDTHS)
    found = len(reconciliation.differences) + len(platform)
    rows: list[tuple[str, Any]] = [
        ("定点医疗机构", institution.name_zh),
        ("机构编码", institution.code),
        ("结算月份", statement.month),
        ("对账单编号", str(statement.id)),
        ("状态", STATUSES[statement.status]),
        ("生成时间（北京时间）", cells.time(statement.generated_at)),
        ("结算笔数", statement.settlement_count),
        ("冲正笔数", statement.reversal_count),
        ("医疗费总额（元）", cells.money(statement.total_fen)),
        ("统筹基金支付（元）", cells.money(statement.fund_fen)),
        ("个人账户支付（元）", cells.money(statement.account_fen)),
        ("个人现金支付（元）", cells.money(statement.cash_fen)),
        ("争议暂缓（元）", cells.money(statement.held_fen)),
        ("暂缓后补付（元）", cells.money(statement.released_fen)),
        ("结转转入（元）", cells.money(statement.carried_in_fen)),
        ("应拨付（元）", cells.money(statement.payable_fen)),
        ("已拨付（元）", cells.money(statement.paid_fen)),
        ("已记账拨付（元）", cells.money(reconciliation.remitted_fen)),
        ("对账结果", "相符" if not found else f"不相符，{found} 项差异（见“差异”表）"),
    ]
    sheet.append(cells.header(("项目", "内容")))
    for label, value in rows:
        sheet.append([label, value])
    sheet.append([])
    sheet.append(cells.header(BREAKDOWN_HEADERS))
    for group in statement.breakdown:
        sheet.append(
            [
                group["disease_code"],
                INSURANCE_TYPES.get(group["insurance_type"], group["insurance_type"]),
                group["settlement_count"],
                group["reversal_count"],
                *(
                    cells.money(group[column])
                    for column in ("total_fen", "fund_fen", "account_fen", "cash_fen")
                ),
            ]
        )


def _ledger_row(cells: _Cells, difference: Difference) -> list[Any]:
    return [
        LEDGER_SOURCE,
        DIFFERENCE_KINDS[difference.kind],
        _text(difference.settlement_id),
        _text(difference.payment_id),
        None,
        cells.money(difference.expected_fen),
        cells.money(difference.actual_fen),
        cells.money(difference.difference_fen),
        difference.detail,
    ]


def _platform_row(cells: _Cells, difference: LineDifference) -> list[Any]:
    # The platform's fund share against ours; a line it never booked has no amount there.
    platform = difference.platform_fund_fen
    return [
        PLATFORM_SOURCE,
        DIFFERENCE_KINDS[difference.problem],
        str(difference.settlement_id),
        None,
        difference.setl_id,
        cells.money(difference.local_fund_fen),
        cells.money(platform),
        cells.money(None if platform is None else platform - difference.local_fund_fen),
        f"{KINDS[difference.kind]}的统筹基金支付",
    ]


def _write_differences(
    book: Workbook, reconciliation: Reconciliation, platform: Sequence[LineDifference]
) -> None:
    sheet = book.create_sheet(DIFFERENCES_SHEET)
    cells = _Cells(sheet)
    cells.widths(DIFFERENCE_WIDTHS)
    sheet.freeze_panes = "A2"
    sheet.append(cells.header(DIFFERENCE_HEADERS))
    for difference in reconciliation.differences:
        sheet.append(_ledger_row(cells, difference))
    for line in platform:
        sheet.append(_platform_row(cells, line))


def workbook(
    institution: Institution,
    current: StatementView,
    reconciliation: Reconciliation,
    platform: Sequence[LineDifference],
) -> bytes:
    """The statement's workbook as XLSX bytes (written streaming, in write-only mode)."""
    book = Workbook(write_only=True)
    _write_summary(book, institution, current, reconciliation, platform)
    _write_lines(book, sheet_title(institution), current)
    _write_differences(book, reconciliation, platform)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class StatementWorkbook:
    statement: Statement
    institution: Institution
    content: bytes


async def statement_workbook(
    session: AsyncSession, statement_id: uuid.UUID, platform_connected: bool
) -> StatementWorkbook:
    """The statement's workbook (404 if unknown). Platform differences are listed only where
    the platform is connected: elsewhere every line would show as not on the platform."""
    current = await statement_service.view(session, statement_id)
    statement = current.statement
    institution = await reference_repository.get_institution(session, statement.institution_id)
    if institution is None:
        raise NotFound("institution_not_found")
    platform = (
        await platform_reconciliation.line_differences(session, current.rows)
        if platform_connected
        else []
    )
    reconciliation = await reconciliation_service.reconciled(session, current)
    return StatementWorkbook(
        statement, institution, workbook(institution, current, reconciliation, platform)
    )
