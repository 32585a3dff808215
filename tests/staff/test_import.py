"""Staff spreadsheet import: XLSX from openpyxl, CSV as Excel writes it (UTF-8 with BOM,
CRLF) and as GBK; a per-row report in the caller's language; nothing changes when any row is
wrong; a dry run changes nothing either."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from sqlalchemy import func, select

from app.models import Account, Doctor, PharmacyStaff, PrescriptionReviewer

HEADER = ["用户名", "姓名", "角色", "机构代码", "门店编码", "科室", "职称", "专长病种"]


def _rows(hospital_code: str, store_code: str) -> list[list[str]]:
    return [
        HEADER,
        ["dr.wang", "王医生", "医生", hospital_code, "", "内分泌科", "主治医师", "M01600、M03900"],
        ["rx.li", "李药师", "药师", hospital_code, "", "", "", ""],
        ["rx.zhou2", "周药师", "药师", "", store_code, "", "", ""],
        ["courier.he", "何师傅", "配送员", "", store_code, "", "", ""],
    ]


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _csv(rows: list[list[str]], encoding: str) -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


async def _upload(client, headers, content: bytes, name: str, **params: str):
    files = {"file": (name, content, "application/octet-stream")}
    return await client.post("/api/v1/staff/imports", headers=headers, files=files, params=params)


async def _staff_count(db_session) -> int:
    return await db_session.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.username.in_(["dr.wang", "rx.li", "rx.zhou2", "courier.he"]))
    )


async def test_an_xlsx_workbook_creates_every_row_where_it_says(
    client, admin, hospital, store, db_session
) -> None:
    content = _xlsx(_rows(hospital.code, store.code))
    response = await _upload(client, admin, content, "staff.xlsx")
    assert response.status_code == 201, response.text
    report = response.json()
    assert report["applied"] is True
    assert [r["row"] for r in report["rows"]] == [2, 3, 4, 5]
    assert all(r["account_id"] and r["initial_password"] for r in report["rows"])
    assert await db_session.scalar(select(func.count()).select_from(Doctor).where(
        Doctor.institution_id == hospital.id)) == 1  # fmt: skip
    assert await db_session.scalar(select(func.count()).select_from(PrescriptionReviewer).where(
        PrescriptionReviewer.institution_id == hospital.id)) == 1  # fmt: skip
    assert await db_session.scalar(select(func.count()).select_from(PharmacyStaff).where(
        PharmacyStaff.store_id == store.id)) == 2  # fmt: skip
    specialties = await db_session.scalar(select(Doctor.specialties).where(
        Doctor.institution_id == hospital.id))  # fmt: skip
    assert specialties == ["M01600", "M03900"]


async def test_a_csv_as_excel_saves_it_utf8_with_bom_and_crlf(
    client, admin, hospital, store, db_session
) -> None:
    content = _csv(_rows(hospital.code, store.code), "utf-8-sig")
    assert content.startswith(b"\xef\xbb\xbf") and b"\r\n" in content
    response = await _upload(client, admin, content, "staff.csv")
    assert response.status_code == 201, response.text
    assert await _staff_count(db_session) == 4


async def test_a_gbk_csv_is_read(client, admin, hospital, store, db_session) -> None:
    content = _csv(_rows(hospital.code, store.code), "gbk")
    response = await _upload(client, admin, content, "staff.csv")
    assert response.status_code == 201, response.text
    names = set(await db_session.scalars(select(Account.display_name).where(
        Account.username.in_(["dr.wang", "courier.he"]))))  # fmt: skip
    assert names == {"王医生", "何师傅"}


async def test_one_wrong_row_imports_nobody_and_names_row_and_field(
    client, admin, hospital, store, db_session
) -> None:
    rows = _rows(hospital.code, store.code)
    rows[3][4] = "NO-SUCH-STORE"  # row 4: 周药师 at an unknown store
    rows[2][3] = ""  # row 3: a pharmacist placed nowhere
    response = await _upload(client, admin, _xlsx(rows), "staff.xlsx")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "staff_import_rejected"
    problems = {(p["row"], p["field"], p["code"]) for p in body["problems"]}
    assert problems == {
        (3, "institution_code", "staff_workplace_invalid"),
        (4, "store_code", "staff_store_not_found"),
    }
    assert await _staff_count(db_session) == 0


async def test_the_report_speaks_chinese_by_default_and_english_when_asked(
    client, admin, hospital, store
) -> None:
    rows = _rows(hospital.code, store.code)
    rows[1][2] = "护士"
    zh = await _upload(client, admin, _csv(rows, "utf-8-sig"), "staff.csv")
    assert zh.json()["problems"][0]["message"].startswith("角色应为")
    english = {**admin, "Accept-Language": "en"}
    en = await _upload(client, english, _csv(rows, "utf-8-sig"), "staff.csv")
    assert en.json()["problems"][0] == {
        "row": 2,
        "field": "role",
        "code": "staff_import_role_invalid",
        "message": "The role must be doctor, pharmacist or courier (医生、药师、配送员)",
    }


async def test_a_username_repeated_in_the_file_is_reported(client, admin, hospital, store) -> None:
    rows = _rows(hospital.code, store.code)
    rows[4][0] = "DR.WANG"
    response = await _upload(client, admin, _csv(rows, "utf-8-sig"), "staff.csv")
    assert response.json()["problems"] == [
        {"row": 5, "field": "username", "code": "staff_import_duplicate_username",
         "message": "用户名与第 2 行重复"}
    ]  # fmt: skip


async def test_a_username_already_in_use_refuses_the_file(
    client, admin, hospital, store, db_session
) -> None:
    rows = _rows(hospital.code, store.code)
    assert (await _upload(client, admin, _xlsx(rows[:2]), "a.xlsx")).status_code == 201
    again = await _upload(client, admin, _xlsx(rows), "b.xlsx")
    assert [(p["row"], p["code"]) for p in again.json()["problems"]] == [
        (2, "staff_username_taken")
    ]
    assert await _staff_count(db_session) == 1


async def test_an_unknown_column_is_reported_on_the_header_row(client, admin) -> None:
    rows = [["用户名", "姓名", "角色", "电话"], ["a.b", "某人", "医生", "139"]]
    response = await _upload(client, admin, _csv(rows, "utf-8-sig"), "staff.csv")
    assert response.json()["problems"] == [
        {"row": 1, "field": "电话", "code": "staff_import_column_unknown",
         "message": "无法识别的列：电话"}
    ]  # fmt: skip


async def test_a_dry_run_checks_and_creates_nobody(
    client, admin, hospital, store, db_session
) -> None:
    content = _xlsx(_rows(hospital.code, store.code))
    response = await _upload(client, admin, content, "staff.xlsx", dry_run="true")
    assert response.status_code == 200
    report = response.json()
    assert report["dry_run"] is True and report["applied"] is False
    assert [r["username"] for r in report["rows"]] == ["dr.wang", "rx.li", "rx.zhou2", "courier.he"]
    assert all(r["account_id"] is None for r in report["rows"])
    assert await _staff_count(db_session) == 0


async def test_a_file_that_is_no_spreadsheet_is_refused(client, admin) -> None:
    response = await _upload(client, admin, b"PK\x03\x04not really a zip", "staff.xlsx")
    assert response.status_code == 422
    assert response.json()["code"] == "staff_import_unreadable"


async def test_english_headers_are_read(client, admin, hospital) -> None:
    rows = [
        ["username", "display_name", "role", "institution_code", "department", "title"],
        ["dr.eng", "English Header", "doctor", hospital.code, "心内科", "主任医师"],
    ]
    response = await _upload(client, admin, _csv(rows, "utf-8"), "staff.csv")
    assert response.status_code == 201, response.text
