"""The bureau's monthly statement as an XLSX workbook, read back with openpyxl and with an
independent reader (calamine): sheets, Chinese headers, yuan that reconcile to the fen with
the CSV and the statement JSON, Shanghai times, and the reconciliation's differences."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from app.models import Institution, Role
from app.payment.statement_workbook import sheet_title, yuan
from tests.fixtures import factories
from tests.insurance.months import APRIL_2, MARCH, MARCH_10, STATEMENTS, Office, office

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LINE_HEADERS = [
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
]
DIFFERENCE_HEADERS = [
    "来源",
    "差异类型",
    "结算ID",
    "支付ID",
    "平台结算号",
    "应为（元）",
    "实为（元）",
    "差额（元）",
    "说明",
]
FUND, PAYABLE = 11, 15


def fen(yuan: Any) -> int:
    """A yuan cell as integer fen, failing unless it is exact to the fen."""
    amount = Decimal(str(yuan)) * 100
    assert amount == amount.to_integral_value(), yuan
    return int(amount)


async def _exports(o: Office, statement: dict[str, Any]) -> tuple[Any, list[dict[str, str]]]:
    url = f"{STATEMENTS}/{statement['id']}"
    answer = await o.call(APRIL_2, "GET", f"{url}/export.xlsx")
    assert answer.status_code == 200, answer.text
    exported = await o.call(APRIL_2, "GET", f"{url}/export.csv")
    return answer, list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))


def _rows(content: bytes, sheet: str) -> list[list[Any]]:
    book = load_workbook(io.BytesIO(content))
    return [[cell.value for cell in row] for row in book[sheet].iter_rows()]


async def test_the_workbook_has_a_summary_the_institutions_lines_and_the_differences(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    kept = await o.settle(MARCH_10)
    undone = await o.settle(MARCH_10, quantity=30)
    await o.reverse(MARCH_10, undone)
    statement = await o.statement(APRIL_2, MARCH)
    answer, csv_rows = await _exports(o, statement)
    detail = await o.detail(APRIL_2, statement)
    report = await o.reconcile(APRIL_2, statement)
    institution = o.world.institution

    assert answer.headers["content-type"] == XLSX
    name = quote(f"{institution.name_zh}-{MARCH}-医保结算对账单.xlsx", safe="")
    assert answer.headers["content-disposition"] == (
        f"attachment; filename=\"statement-{MARCH}-{institution.id}.xlsx\"; filename*=UTF-8''{name}"
    )
    book = load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames == ["汇总", institution.name_zh, "差异"]

    lines = _rows(answer.content, institution.name_zh)
    assert lines[0] == LINE_HEADERS
    body, total = lines[1:-1], lines[-1]
    csv_lines, csv_total = csv_rows[:-1], csv_rows[-1]
    by_id = {r["settlement_id"]: r for r in csv_lines}
    assert sorted(r[1] for r in body) == ["冲正", "结算", "结算"]
    assert {r[2] for r in body} == set(by_id) >= {str(kept.id), str(undone.id)}
    for row in body:
        mine = by_id[row[2]]
        assert row[1] == {"settlement": "结算", "reversal": "冲正"}[mine["kind"]]
        # Shanghai wall time, the CSV's moment without its +08:00.
        assert row[0] == datetime.fromisoformat(mine["settled_at"]).replace(tzinfo=None)
        assert fen(row[FUND]) == int(mine["fund_fen"])
        assert fen(row[PAYABLE]) == int(mine["payable_fen"])
    assert sum(fen(r[PAYABLE]) for r in body) == statement["payable_fen"] == fen(total[PAYABLE])
    assert fen(total[FUND]) == int(csv_total["fund_fen"]) == detail["fund_fen"]
    sheet = book[institution.name_zh]
    assert {sheet.cell(row=2, column=c).number_format for c in range(11, 15)} == {"0.00"}
    assert sheet.cell(row=2, column=1).number_format == "yyyy-mm-dd hh:mm:ss"

    summary = {r[0]: r[1] for r in _rows(answer.content, "汇总")[1:20]}
    assert summary["结算月份"] == MARCH and summary["定点医疗机构"] == institution.name_zh
    assert fen(summary["应拨付（元）"]) == statement["payable_fen"]
    assert (summary["结算笔数"], summary["冲正笔数"]) == (2, 1)

    # The kept settlement's personal share was never collected: the reconciliation says so,
    # and so does the differences sheet, line by line.
    [unpaid] = report["differences"]
    assert (unpaid["kind"], unpaid["settlement_id"]) == ("personal_share_unpaid", str(kept.id))
    differences = _rows(answer.content, "差异")
    assert differences[0] == DIFFERENCE_HEADERS
    [row] = differences[1:]
    assert row[:4] == ["账务对账", "个人自付未收齐", str(kept.id), None]
    assert [fen(v) for v in row[5:8]] == [kept.cash_fen, 0, -kept.cash_fen]

    # An independent reader sees the same workbook.
    with CalamineWorkbook.from_filelike(io.BytesIO(answer.content)) as other:
        assert other.sheet_names == ["汇总", institution.name_zh, "差异"]
        read = other.get_sheet_by_name(institution.name_zh).to_python()
        assert list(read[0]) == LINE_HEADERS
        assert sum(fen(r[PAYABLE]) for r in read[1:-1]) == statement["payable_fen"]
        assert fen(read[-1][FUND]) == detail["fund_fen"]
        assert other.get_sheet_by_name("差异").to_python()[1][1] == "个人自付未收齐"


async def test_a_statement_that_reconciles_has_a_differences_sheet_of_its_header_only(
    client, db_session, settings
) -> None:
    o = await office(client, db_session, settings)
    undone = await o.settle(MARCH_10)
    await o.reverse(MARCH_10, undone)
    statement = await o.statement(APRIL_2, MARCH)
    assert (await o.reconcile(APRIL_2, statement))["agrees"] is True
    answer, _ = await _exports(o, statement)
    assert _rows(answer.content, "差异") == [DIFFERENCE_HEADERS]
    summary = {r[0]: r[1] for r in _rows(answer.content, "汇总")[1:20]}
    assert summary["对账结果"] == "相符"
    with CalamineWorkbook.from_filelike(io.BytesIO(answer.content)) as other:
        assert [list(r) for r in other.get_sheet_by_name("差异").to_python()] == [
            DIFFERENCE_HEADERS
        ]


async def test_only_the_bureau_downloads_the_workbook(client, db_session, settings) -> None:
    o = await office(client, db_session, settings)
    await o.settle(MARCH_10)
    statement = await o.statement(APRIL_2, MARCH)
    doctor = await factories.account(db_session, Role.doctor)
    url = f"{STATEMENTS}/{statement['id']}/export.xlsx"
    refused = await o.call(APRIL_2, "GET", url, who=doctor)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_fen_become_exact_yuan_and_a_name_becomes_a_sheet_excel_accepts() -> None:
    assert [str(yuan(f)) for f in (0, 5, -5, 100, -12345, 98765432109876)] == [
        "0.00",
        "0.05",
        "-0.05",
        "1.00",
        "-123.45",
        "987654321098.76",
    ]
    assert sheet_title(Institution(name_zh="阳泉市[第一]人民医院:门诊/住院*?\\")) == (
        "阳泉市_第一_人民医院_门诊_住院___"
    )
    assert len(sheet_title(Institution(name_zh="医" * 40))) == 31
