"""A staff spreadsheet import: every row checked first, a per-row report of what is wrong
(row number, column, a message in the caller's language), and all rows created in the
request's one transaction, or none (a dry run only checks).

Columns (the header row; Chinese or English names, any order): 用户名/username, 姓名/
display_name, 角色/role (医生/药师/配送员 or doctor/pharmacist/courier), 机构代码/
institution_code, 门店编码/store_code, 科室/department, 职称/title, 专长病种/specialties
(codes separated by ; , 、 or spaces), 最大患者数/max_active_patients.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Actor
from app.auth.passwords import hash_password
from app.errors import AppError
from app.i18n import translate
from app.staff import service as staff_service
from app.staff.schemas import ImportRowOut, StaffCreate, StaffImportReport
from app.staff.spreadsheet import MAX_BYTES, MAX_ROWS, UnreadableSpreadsheet, read_rows

# Field -> the header names it is known by (compared case-insensitively).
COLUMNS: dict[str, tuple[str, ...]] = {
    "username": ("username", "用户名", "登录名"),
    "display_name": ("display_name", "name", "姓名"),
    "role": ("role", "角色"),
    "institution_code": ("institution_code", "机构代码"),
    "store_code": ("store_code", "门店编码"),
    "department_zh": ("department", "department_zh", "科室"),
    "title_zh": ("title", "title_zh", "职称"),
    "specialties": ("specialties", "专长病种"),
    "max_active_patients": ("max_active_patients", "最大患者数"),
}
REQUIRED_COLUMNS = ("username", "display_name", "role")
ROLE_WORDS = {
    "doctor": "doctor", "医生": "doctor",
    "pharmacist": "pharmacist", "药师": "pharmacist",
    "courier": "courier", "配送员": "courier",
}  # fmt: skip
_HEADER = {alias.casefold(): name for name, aliases in COLUMNS.items() for alias in aliases}
_LIST_SEPARATORS = re.compile(r"[;,，；、\s]+")
HEADER_ROW = 1


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with the spreadsheet: where, and a message code with its values."""

    row: int
    field: str | None
    code: str
    params: dict[str, object]

    def as_report(self) -> dict[str, Any]:
        """The problem as the report shows it, in the caller's language."""
        return {
            "row": self.row,
            "field": self.field,
            "code": self.code,
            "message": translate(self.code, **self.params),
        }


class ImportRejected(AppError):
    """422 with every problem found; nothing was imported."""

    status = 422
    code = "staff_import_rejected"


class ImportUnreadable(AppError):
    status = 422
    code = "staff_import_unreadable"


def _rejected(problems: list[ImportProblem]) -> ImportRejected:
    return ImportRejected(
        count=len(problems), extra={"problems": [p.as_report() for p in problems]}
    )


@dataclass(frozen=True)
class _Row:
    number: int
    data: StaffCreate


async def import_staff(
    session: AsyncSession, actor: Actor, content: bytes, *, dry_run: bool
) -> StaffImportReport:
    """Check every row of the spreadsheet, then create them all (or, in a dry run, nobody);
    any problem anywhere refuses the whole file with the per-row report."""
    if len(content) > MAX_BYTES:
        raise ImportUnreadable(
            "staff_import_too_large", max_rows=MAX_ROWS, max_mb=MAX_BYTES / 2**20
        )
    try:
        table = read_rows(content)
    except UnreadableSpreadsheet as exc:
        raise ImportUnreadable() from exc
    if len(table) > MAX_ROWS + 1:
        raise ImportUnreadable(
            "staff_import_too_large", max_rows=MAX_ROWS, max_mb=MAX_BYTES / 2**20
        )
    if len(table) < 2:
        raise ImportUnreadable("staff_import_empty")
    fields, problems = _header(table[0])
    if problems:
        raise _rejected(problems)
    rows = _parse_rows(table[1:], fields, problems)
    lookups = await staff_service.lookups_for(session, [r.data for r in rows])
    for row in rows:
        problems += [
            ImportProblem(row.number, p.field, p.code, p.params)
            for p in staff_service.check_new(row.data, lookups)
        ]
    if problems:
        raise _rejected(sorted(problems, key=lambda p: p.row))
    if dry_run:
        return StaffImportReport(
            dry_run=True,
            applied=False,
            rows=[ImportRowOut(row=r.number, username=r.data.username, account_id=None,
                               initial_password=None) for r in rows],
        )  # fmt: skip
    passwords = [staff_service.new_password() for _ in rows]
    # argon2 is deliberately slow: hash the whole file off the event loop in one go.
    hashes = await asyncio.to_thread(lambda: [hash_password(p) for p in passwords])
    report: list[ImportRowOut] = []
    for row, password, password_hash in zip(rows, passwords, hashes, strict=True):
        placed = await staff_service.insert(session, actor, row.data, lookups, password_hash)
        report.append(
            ImportRowOut(row=row.number, username=row.data.username,
                         account_id=placed.account.id, initial_password=password)
        )  # fmt: skip
    return StaffImportReport(dry_run=False, applied=True, rows=report)


def _header(cells: list[str]) -> tuple[list[str | None], list[ImportProblem]]:
    """The field of each column, and the header's problems (unknown or missing columns)."""
    fields: list[str | None] = []
    problems: list[ImportProblem] = []
    for cell in cells:
        name = _HEADER.get(cell.strip().lstrip("\ufeff").casefold())
        if name is None and cell:
            problems.append(
                ImportProblem(HEADER_ROW, cell, "staff_import_column_unknown", {"column": cell})
            )
        fields.append(name)
    for required in REQUIRED_COLUMNS:
        if required not in fields:
            problems.append(
                ImportProblem(HEADER_ROW, required, "staff_import_column_missing",
                              {"column": required})
            )  # fmt: skip
    return fields, problems


def _parse_rows(
    table: list[list[str]], fields: list[str | None], problems: list[ImportProblem]
) -> list[_Row]:
    """The rows that are well-formed people; the others' problems go to `problems`, as do
    usernames repeated within the file."""
    rows: list[_Row] = []
    first_row_of: dict[str, int] = {}
    for offset, cells in enumerate(table):
        number = HEADER_ROW + 1 + offset
        values = {
            name: cell
            for name, cell in zip(fields, cells, strict=False)
            if name is not None and cell
        }
        row_problems = _values_problems(number, values)
        if row_problems:
            problems += row_problems
            continue
        try:
            data = StaffCreate.model_validate(_typed(values))
        except ValidationError as exc:
            problems += [_problem_of(number, error) for error in exc.errors()]
            continue
        if data.username in first_row_of:
            problems.append(
                ImportProblem(number, "username", "staff_import_duplicate_username",
                              {"row": first_row_of[data.username]})
            )  # fmt: skip
            continue
        first_row_of[data.username] = number
        rows.append(_Row(number, data))
    return rows


def _values_problems(number: int, values: dict[str, str]) -> list[ImportProblem]:
    problems = [
        ImportProblem(number, name, "staff_import_value_missing", {})
        for name in REQUIRED_COLUMNS
        if not values.get(name)
    ]
    role = values.get("role")
    if role and role.casefold() not in ROLE_WORDS:
        problems.append(ImportProblem(number, "role", "staff_import_role_invalid", {}))
    return problems


def _typed(values: dict[str, str]) -> dict[str, object]:
    typed: dict[str, object] = dict(values)
    typed["role"] = ROLE_WORDS[values["role"].casefold()]
    if "specialties" in values:
        typed["specialties"] = [c for c in _LIST_SEPARATORS.split(values["specialties"]) if c]
    return typed


def _problem_of(number: int, error: Any) -> ImportProblem:
    location = error.get("loc") or ()
    field = str(location[0]) if location else None
    code = "staff_import_value_missing" if error.get("type") == "missing" else (
        "staff_import_value_invalid"
    )  # fmt: skip
    return ImportProblem(number, field, code, {})
