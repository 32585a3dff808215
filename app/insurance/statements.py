"""Monthly statements per designated institution: generated once the month has ended,
confirmed by the bureau, paid by the bureau; exported as CSV or JSON."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

import app.insurance.messages  # noqa: F401 - registers the error texts
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import Conflict, NotFound
from app.insurance import ledger, statement_repository
from app.kit.clock import SHANGHAI, to_shanghai, utcnow
from app.models import Institution, Settlement, Statement

RESOURCE = "insurance_statement"
# The one place statement states and their legal next steps are declared.
TRANSITIONS: dict[str, frozenset[str]] = {
    "generated": frozenset({"confirmed"}),
    "confirmed": frozenset({"paid"}),
    "paid": frozenset(),
}


def month_window(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM month in Asia/Shanghai, as aware datetimes."""
    year, number = int(month[:4]), int(month[5:7])
    start = datetime(year, number, 1, tzinfo=SHANGHAI)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def month_of(moment: datetime) -> str:
    """The YYYY-MM (Asia/Shanghai) a moment falls in."""
    return to_shanghai(moment).strftime("%Y-%m")


def totals(rows: Sequence[Settlement]) -> dict[str, int]:
    """Counts and signed fen totals of settlements and reversals."""
    return {
        "settlement_count": sum(1 for r in rows if r.kind == "settlement"),
        "reversal_count": sum(1 for r in rows if r.kind == "reversal"),
        "total_fen": sum(r.total_fen for r in rows),
        "fund_fen": sum(r.fund_fen for r in rows),
        "account_fen": sum(r.account_fen for r in rows),
        "cash_fen": sum(r.cash_fen for r in rows),
    }


def breakdown(rows: Sequence[Settlement], codes: dict[uuid.UUID, str]) -> list[dict[str, Any]]:
    """Totals per (disease, insurance type), ordered by disease code then insurance type."""
    groups: dict[tuple[uuid.UUID, str], list[Settlement]] = {}
    for row in rows:
        groups.setdefault((row.disease_id, row.insurance_type), []).append(row)
    return [
        {
            "disease_id": str(disease_id),
            "disease_code": codes.get(disease_id, ""),
            "insurance_type": insurance_type,
            **totals(members),
        }
        for (disease_id, insurance_type), members in sorted(
            groups.items(), key=lambda item: (codes.get(item[0][0], ""), item[0][1])
        )
    ]


async def generate(
    session: AsyncSession, principal: Principal, institution_id: uuid.UUID, month: str
) -> Statement:
    """The institution's statement of a closed month (made once; asking again returns it)."""
    existing = await statement_repository.statement_of(session, institution_id, month)
    if existing is not None:
        return existing
    if await session.get(Institution, institution_id) is None:
        raise NotFound("institution_not_found")
    start, end = month_window(month)
    now = utcnow()
    if now < end:
        raise Conflict("statement_month_open")
    rows = await statement_repository.settlements_between(session, institution_id, start, end)
    codes = await statement_repository.disease_codes(session, {r.disease_id for r in rows})
    statement = Statement(
        institution_id=institution_id,
        month=month,
        status="generated",
        breakdown=breakdown(rows, codes),
        generated_at=now,
        generated_by_account_id=principal.account_id,
        **totals(rows),
    )
    session.add(statement)
    await session.flush()
    await statement_repository.add_lines(session, statement.id, [r.id for r in rows])
    await audit_service.record(session, principal, AuditAction.create, RESOURCE, statement.id, None)
    return statement


async def get(session: AsyncSession, statement_id: uuid.UUID) -> Statement:
    """A statement by id (404 if unknown)."""
    statement = await statement_repository.get_statement(session, statement_id)
    if statement is None:
        raise NotFound()
    return statement


async def detail(
    session: AsyncSession, statement_id: uuid.UUID
) -> tuple[Statement, Sequence[Settlement]]:
    """A statement with the settlements and reversals it covers."""
    statement = await get(session, statement_id)
    return statement, await statement_repository.statement_settlements(session, statement.id)


def _advance(statement: Statement, target: str) -> None:
    if target not in TRANSITIONS[statement.status]:
        raise Conflict("statement_transition_invalid", status=statement.status)
    statement.status = target


async def confirm(
    session: AsyncSession, principal: Principal, statement_id: uuid.UUID
) -> Statement:
    """The bureau confirms the statement (confirming again, or after payment, changes nothing)."""
    statement = await get(session, statement_id)
    if statement.confirmed_at is not None:
        return statement
    _advance(statement, "confirmed")
    statement.confirmed_at = utcnow()
    statement.confirmed_by_account_id = principal.account_id
    await session.flush()
    await audit_service.record(session, principal, AuditAction.update, RESOURCE, statement.id, None)
    return statement


async def record_payment(
    session: AsyncSession,
    principal: Principal,
    statement_id: uuid.UUID,
    amount_fen: int,
    reference: str,
    paid_on: date,
) -> Statement:
    """Record the bureau's payment to the institution, booked against its receivables."""
    statement = await get(session, statement_id)
    if statement.status == "paid":
        if (statement.payment_reference, statement.paid_fen) == (reference, amount_fen):
            return statement
        raise Conflict("statement_already_paid")
    _advance(statement, "paid")
    statement.paid_fen = amount_fen
    statement.paid_on = paid_on
    statement.payment_reference = reference
    statement.paid_recorded_at = utcnow()
    await session.flush()
    # Clear the fund receivable first, then the account-payment receivable; whatever differs
    # from the statement remains on the receivables and shows up in reconciliation.
    fund_part = min(amount_fen, max(statement.fund_fen, 0))
    await ledger.post(
        session,
        "remittance",
        [
            ledger.Posting(ledger.Account.bureau_remittance, amount_fen),
            ledger.Posting(ledger.Account.fund_receivable, -fund_part),
            ledger.Posting(ledger.Account.account_receivable, -(amount_fen - fund_part)),
        ],
        ledger.Refs(statement.institution_id, statement_id=statement.id),
    )
    await audit_service.record(session, principal, AuditAction.update, RESOURCE, statement.id, None)
    return statement


CSV_COLUMNS = (
    "settled_at",
    "kind",
    "settlement_id",
    "reverses_id",
    "message_id",
    "order_id",
    "patient_id",
    "disease_code",
    "insurance_type",
    "med_type",
    "total_fen",
    "fund_fen",
    "account_fen",
    "cash_fen",
)


def to_csv(statement: Statement, rows: Sequence[Settlement]) -> str:
    """The statement as CSV: one line per settlement or reversal, then a totals line."""
    codes = {uuid.UUID(b["disease_id"]): b["disease_code"] for b in statement.breakdown}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            (
                to_shanghai(row.settled_at).isoformat(),
                row.kind,
                row.id,
                row.reverses_id or "",
                row.message_id,
                row.order_id,
                row.patient_id,
                codes.get(row.disease_id, ""),
                row.insurance_type,
                row.med_type,
                row.total_fen,
                row.fund_fen,
                row.account_fen,
                row.cash_fen,
            )
        )
    writer.writerow(
        (
            f"total {statement.month}",
            f"{statement.settlement_count} settlements / {statement.reversal_count} reversals",
            *([""] * 8),
            statement.total_fen,
            statement.fund_fen,
            statement.account_fen,
            statement.cash_fen,
        )
    )
    return buffer.getvalue()
