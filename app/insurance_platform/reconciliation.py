"""A monthly statement reconciled with the platform: 3201 (对总账) per insurance type with the
totals the platform booked for this institution, 3202 (对明细账) line by line on the platform's
side, and the statement's lines compared one by one with the platform settlements kept here.

3201 input `data`: insutype, clr_type (11 门诊), setl_optins (the clearing area), stmt_begndate,
stmt_enddate (yyyy-MM-dd), medfee_sumamt, fund_pay_sumamt, acct_pay, fixmedins_setl_cnt;
output `stmtinfo`: setl_optins, stmt_rslt (0 平, 1 不平), stmt_rslt_dscr.

3202 works on files. The month's platform settlements are written one a line (tab-separated,
UTF-8: setl_id, mdtrt_id, psn_no, medfee_sumamt, fund_pay_sumamt, acct_pay, refd_setl_flag 0/1
for a reversal), zipped and uploaded with 9101 (`fsUploadIn`: in, the zip as a byte array;
filename; fixmedins_code), which answers its `file_qury_no`. 3202 `data`: setl_optins,
file_qury_no, stmt_begndate, stmt_enddate, medfee_sumamt, fund_pay_sumamt, cash_payamt,
fixmedins_setl_cnt, clr_type; its output `fileinfo` (file_qury_no, filename, dld_endtime) names
the result file, fetched with 9102 (`fsDownloadIn`): a zipped text file with one line per line
that does not agree (psn_no, mdtrt_id, setl_id, msgid, stmt_rslt, refd_setl_flag, memo,
medfee_sumamt, fund_pay_sumamt, acct_pay). Those lines are shown as they came; psn_no is not.
"""

from __future__ import annotations

import io
import uuid
import zipfile
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
from app.insurance_platform.amounts import yuan_to_fen
from app.insurance_platform.client import InsurancePlatform, PlatformUnreachable
from app.insurance_platform.persons import INSURANCE_TYPES
from app.kit.money import fen_to_yuan
from app.models import PlatformSettlement, Settlement

TOTALS = "3201"
DETAIL = "3202"
UPLOAD = "9101"
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
    # not_on_platform: settled here only; split_differs: booked here with another fund share
    # than the platform settled.
    problem: str


@dataclass(frozen=True)
class PlatformLine:
    """A line the platform's 3202 result file says does not agree, as the platform sees it."""

    setl_id: str
    mdtrt_id: str
    msgid: str
    reversal: bool
    result: str
    memo: str
    total_fen: int
    fund_fen: int
    account_fen: int


@dataclass(frozen=True)
class DetailReconciliation:
    """3202: the uploaded detail file's query number and the lines the platform disputes."""

    file_qury_no: str
    msgid: str
    lines: list[PlatformLine]

    @property
    def balanced(self) -> bool:
        return not self.lines


@dataclass(frozen=True)
class Reconciliation:
    statement_id: uuid.UUID
    month: str
    detail: DetailReconciliation
    by_type: list[TypeReconciliation] = field(default_factory=list)
    differences: list[LineDifference] = field(default_factory=list)


DETAIL_COLUMNS = 7
RESULT_COLUMNS = 10


def detail_file(name: str, rows: Sequence[PlatformSettlement]) -> bytes:
    """The zipped detail file of 3202: one platform settlement or reversal a line."""
    text = "".join(
        "\t".join(
            (
                row.setl_id,
                row.mdtrt_id,
                row.psn_no,
                fen_to_yuan(row.total_fen),
                fen_to_yuan(row.fund_fen),
                fen_to_yuan(row.account_fen),
                "1" if row.kind == "reversal" else "0",
            )
        )
        + "\n"
        for row in rows
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, text.encode())
    return buffer.getvalue()


def zipped_lines(content: bytes, columns: int) -> list[list[str]]:
    """The tab-separated lines of the one text file in a zip; anything else is not an answer."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            [name] = archive.namelist()
            text = archive.read(name).decode()
    except (zipfile.BadZipFile, ValueError, UnicodeDecodeError) as exc:
        raise PlatformUnreachable() from exc
    lines = [line.split("\t") for line in text.splitlines() if line.strip()]
    if any(len(line) != columns for line in lines):
        raise PlatformUnreachable()
    return lines


def result_lines(content: bytes) -> list[PlatformLine]:
    """The platform's 3202 result file read (psn_no is dropped)."""
    return [
        PlatformLine(
            setl_id=setl_id,
            mdtrt_id=mdtrt_id,
            msgid=msgid,
            reversal=refund == "1",
            result=result,
            memo=memo,
            total_fen=yuan_to_fen(total),
            fund_fen=yuan_to_fen(fund),
            account_fen=yuan_to_fen(account),
        )
        for _, mdtrt_id, setl_id, msgid, result, refund, memo, total, fund, account in (
            zipped_lines(content, RESULT_COLUMNS)
        )
    ]


async def _reconcile_details(
    settings: Settings,
    platform: InsurancePlatform,
    month: str,
    dates: dict[str, str],
    kept: Sequence[PlatformSettlement],
    subject: str,
) -> DetailReconciliation:
    """9101 (the detail file), 3202 (with its file_qury_no), 9102 (the result file)."""
    code = settings.insurance_platform_fixmedins_code
    name = f"{code}{month.replace('-', '')}3202"
    content = detail_file(f"{name}.txt", kept)
    uploaded = await platform.call(
        UPLOAD,
        {
            "fsUploadIn": {
                # A byte array, as the platform's Java side reads `in` (signed bytes).
                "in": [byte - 256 if byte > 127 else byte for byte in content],
                "filename": f"{name}.zip",
                "fixmedins_code": code,
            }
        },
        subject=subject,
    )
    file_qury_no = str(uploaded.output.get("file_qury_no") or "")
    sign = {"settlement": 1, "reversal": -1}
    total = sum(row.total_fen for row in kept)
    fund = sum(row.fund_fen for row in kept)
    answer = await platform.call(
        DETAIL,
        {
            "data": {
                "setl_optins": settings.insurance_platform_area,
                "file_qury_no": file_qury_no,
                **dates,
                "medfee_sumamt": fen_to_yuan(total),
                "fund_pay_sumamt": fen_to_yuan(fund),
                "cash_payamt": fen_to_yuan(sum(row.cash_fen for row in kept)),
                "fixmedins_setl_cnt": sum(sign[row.kind] for row in kept),
                "clr_type": OUTPATIENT,
            }
        },
        subject=subject,
    )
    info = answer.output.get("fileinfo") or {}
    result = await platform.download(
        {
            "fsDownloadIn": {
                "file_qury_no": str(info.get("file_qury_no") or ""),
                "filename": str(info.get("filename") or ""),
                "fixmedins_code": code,
            }
        },
        subject=subject,
    )
    return DetailReconciliation(file_qury_no, answer.msgid, result_lines(result))


def _difference(row: Settlement, kept: PlatformSettlement | None) -> LineDifference | None:
    if kept is None:
        return LineDifference(row.id, row.kind, None, row.fund_fen, None, "not_on_platform")
    # Booked here otherwise than settled there (a line booked before the platform's split was
    # booked); the estimate's difference is the bureau's flag, not a reconciliation difference.
    if row.fund_fen != kept.fund_fen:
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
    dates = {
        "stmt_begndate": f"{start:%Y-%m-%d}",
        "stmt_enddate": f"{end - timedelta(days=1):%Y-%m-%d}",
    }
    subject = f"statement:{statement.id}"
    detail = await _reconcile_details(
        settings,
        platform,
        statement.month,
        dates,
        [kept[row.id] for row in rows if row.id in kept],
        subject,
    )
    result = Reconciliation(
        statement.id, statement.month, detail, differences=_differences(rows, kept)
    )
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
                    **dates,
                    "medfee_sumamt": fen_to_yuan(totals.total_fen),
                    "fund_pay_sumamt": fen_to_yuan(totals.fund_fen),
                    "acct_pay": fen_to_yuan(totals.account_fen),
                    "fixmedins_setl_cnt": totals.count,
                }
            },
            subject=subject,
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
