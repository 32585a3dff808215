"""Monthly statements per designated institution: generated once the month has ended,
confirmed by the bureau, paid by the bureau; exported as JSON, CSV or an XLSX workbook."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import Conflict, NotFound
from app.insurance import flag_repository, statement_repository
from app.insurance.flag_repository import Dispute
from app.kit.clock import SHANGHAI, to_shanghai, utcnow
from app.ledger import posting
from app.models import (
    FlagReview,
    Settlement,
    SettlementFlag,
    Statement,
    StatementCarry,
)

RESOURCE = "insurance_statement"
# The one place statement states and their legal next steps are declared. A confirmed
# statement is settled by the bureau's payment (payable >= 0), or - payable negative - by the
# institution's recovery payment or by carrying it into a later statement. A bureau
# correction of the payment (or recovery) reopens it.
TRANSITIONS: dict[str, frozenset[str]] = {
    "generated": frozenset({"confirmed"}),
    "confirmed": frozenset({"paid", "recovered", "carried"}),
    "paid": frozenset({"confirmed"}),
    "recovered": frozenset({"confirmed"}),
    "carried": frozenset(),
}
SETTLED = frozenset({"paid", "recovered"})


def month_window(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a YYYY-MM month in Asia/Shanghai, as aware datetimes."""
    year, number = int(month[:4]), int(month[5:7])
    start = datetime(year, number, 1, tzinfo=SHANGHAI)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def month_of(moment: datetime) -> str:
    """The YYYY-MM (Asia/Shanghai) a moment falls in."""
    return to_shanghai(moment).strftime("%Y-%m")


def payable_of(row: Settlement) -> int:
    """What a settlement or reversal adds to what the bureau owes: fund share + account."""
    return row.fund_fen + row.account_fen


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


def original_of(row: Settlement) -> uuid.UUID:
    """The settlement a row is about: itself, or the one a reversal undoes."""
    return row.reverses_id if row.reverses_id is not None else row.id


async def _held(session: AsyncSession, rows: Sequence[Settlement]) -> dict[uuid.UUID, bool]:
    """Which of a month's rows stay out of the payable.

    A settlement is held while a reviewer's flag on it is open (the platform's own flag on a
    split it decided holds nothing), or once the bureau rejected it (it is reversed; the fund
    never pays it). A reversal follows its settlement: it is held when
    that settlement was held and not released (nothing was paid, so nothing is recovered),
    and counts - recovering what was paid - when the settlement was paid.
    """
    originals = list({original_of(r) for r in rows})
    states = await flag_repository.disputes(session, originals)
    unpaid = {i for i, state in states.items() if state != Dispute.confirmed}
    held: dict[uuid.UUID, bool] = {}
    for row in rows:
        if row.kind == "settlement":
            held[row.id] = row.id in unpaid
    elsewhere = [
        original_of(r) for r in rows if r.kind == "reversal" and original_of(r) not in held
    ]
    lines = await statement_repository.lines_of(session, elsewhere)
    released = await statement_repository.released_ids(session, elsewhere)
    for row in rows:
        if row.kind != "reversal":
            continue
        original = original_of(row)
        if original in held:
            held[row.id] = held[original]
        elif original not in unpaid:
            held[row.id] = False
        else:
            line = lines.get(original)
            # Not on a statement yet: it will be held there while its dispute stands.
            held[row.id] = line is None or (line.held and original not in released)
    return held


async def _releasable(session: AsyncSession, institution_id: uuid.UUID) -> list[Settlement]:
    """Held rows whose settlement the bureau has since confirmed."""
    pending = await statement_repository.held_unreleased(session, institution_id)
    states = await flag_repository.disputes(session, [original_of(s) for _, s in pending])
    return [s for _, s in pending if states.get(original_of(s)) == Dispute.confirmed]


async def generate(
    session: AsyncSession, principal: Principal, institution_id: uuid.UUID, month: str
) -> Statement:
    """The institution's statement of a closed month (made once; asking again returns it).

    It covers every settlement and reversal booked in the month, holds the disputed ones out
    of the payable, brings in earlier held ones the bureau has since confirmed, and carries
    in the negative payables of earlier confirmed statements.
    """
    # One generation at a time per institution: the second of two concurrent requests waits
    # here, then finds the first one's statement.
    if await statement_repository.lock_institution(session, institution_id) is None:
        raise NotFound("institution_not_found")
    existing = await statement_repository.statement_of(session, institution_id, month)
    if existing is not None:
        return existing
    start, end = month_window(month)
    now = utcnow()
    if now < end:
        raise Conflict("statement_month_open")
    rows = await statement_repository.settlements_between(session, institution_id, start, end)
    codes = await statement_repository.disease_codes(session, {r.disease_id for r in rows})
    held = await _held(session, rows)
    released = await _releasable(session, institution_id)
    carried = await statement_repository.carriable(session, institution_id, month)
    statement = Statement(
        institution_id=institution_id,
        month=month,
        status="generated",
        breakdown=breakdown(rows, codes),
        generated_at=now,
        generated_by_account_id=principal.account_id,
        held_fen=sum(payable_of(r) for r in rows if held[r.id]),
        released_fen=sum(payable_of(r) for r in released),
        carried_in_fen=sum(c.payable_fen for c in carried),
        **totals(rows),
    )
    session.add(statement)
    await session.flush()
    await statement_repository.add_lines(session, statement.id, {r.id: held[r.id] for r in rows})
    await statement_repository.add_releases(session, statement.id, [r.id for r in released])
    await statement_repository.add_carries(
        session,
        [
            {
                "statement_id": c.id,
                "into_statement_id": statement.id,
                "amount_fen": c.payable_fen,
                "carried_at": now,
            }
            for c in carried
        ],
    )
    for source in carried:
        _advance(source, "carried")
        await audit_service.record(
            session, principal, AuditAction.update, RESOURCE, source.id, None
        )
    await session.flush()
    await audit_service.record(session, principal, AuditAction.create, RESOURCE, statement.id, None)
    return statement


async def listed(
    session: AsyncSession, institution_id: uuid.UUID | None, month: str | None
) -> Sequence[Statement]:
    """The statements, newest month first (of one institution, of one month, when given)."""
    return await statement_repository.list_statements(session, institution_id, month)


async def get(session: AsyncSession, statement_id: uuid.UUID) -> Statement:
    """A statement by id (404 if unknown)."""
    statement = await statement_repository.get_statement(session, statement_id)
    if statement is None:
        raise NotFound()
    return statement


async def _locked(session: AsyncSession, statement_id: uuid.UUID) -> Statement:
    statement = await statement_repository.lock_statement(session, statement_id)
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
    statement = await _locked(session, statement_id)
    if statement.confirmed_at is not None:
        return statement
    _advance(statement, "confirmed")
    statement.confirmed_at = utcnow()
    statement.confirmed_by_account_id = principal.account_id
    await session.flush()
    await audit_service.record(session, principal, AuditAction.update, RESOURCE, statement.id, None)
    return statement


async def payable_parts(session: AsyncSession, statement: Statement) -> tuple[int, int]:
    """The payable split into (fund share, personal-account payments); what was carried in
    is fund money."""
    held = [s for _, s in await statement_repository.held_lines(session, statement.id)]
    released = [s for s, _ in await statement_repository.releases_into(session, statement.id)]
    account = (
        statement.account_fen
        - sum(s.account_fen for s in held)
        + sum(s.account_fen for s in released)
    )
    return statement.payable_fen - account, account


def _remittance_postings(amount_fen: int, fund_part_due: int) -> list[posting.Posting]:
    # Clear the fund receivable first, then the account-payment receivable; whatever differs
    # from the statement remains on the receivables and shows up in reconciliation. A recovery
    # (negative amount) clears negative receivables the same way.
    if amount_fen >= 0:
        fund_part = min(amount_fen, max(fund_part_due, 0))
    else:
        fund_part = max(amount_fen, min(fund_part_due, 0))
    return [
        posting.Posting(posting.Account.bureau_remittance, amount_fen),
        posting.Posting(posting.Account.fund_receivable, -fund_part),
        posting.Posting(posting.Account.account_receivable, -(amount_fen - fund_part)),
    ]


async def _settle_with_money(
    session: AsyncSession,
    principal: Principal,
    statement_id: uuid.UUID,
    target: str,
    amount_fen: int,
    reference: str,
    paid_on: date,
) -> Statement:
    """Record money for a statement exactly once: the statement row is locked, so concurrent
    requests queue; a repeat with the same body returns the statement, another body is 409."""
    statement = await _locked(session, statement_id)
    if statement.status == target:
        if (statement.payment_reference, statement.paid_fen, statement.paid_on) == (
            reference,
            amount_fen,
            paid_on,
        ):
            return statement
        raise Conflict("statement_already_paid")
    if statement.status in SETTLED:
        raise Conflict("statement_already_paid")
    if target == "paid" and statement.payable_fen < 0:
        raise Conflict("statement_payable_negative", payable_fen=statement.payable_fen)
    if target == "recovered" and statement.payable_fen >= 0:
        raise Conflict("statement_payable_not_negative", payable_fen=statement.payable_fen)
    _advance(statement, target)
    statement.paid_fen = amount_fen
    statement.paid_on = paid_on
    statement.payment_reference = reference
    statement.paid_recorded_at = utcnow()
    await session.flush()
    fund_part_due, _ = await payable_parts(session, statement)
    await posting.post(
        session,
        "remittance",
        _remittance_postings(amount_fen, fund_part_due),
        posting.Refs(statement.institution_id, statement_id=statement.id),
    )
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
    return await _settle_with_money(
        session, principal, statement_id, "paid", amount_fen, reference, paid_on
    )


async def record_recovery(
    session: AsyncSession,
    principal: Principal,
    statement_id: uuid.UUID,
    amount_fen: int,
    reference: str,
    paid_on: date,
) -> Statement:
    """Record the institution paying a negative payable back to the bureau (`amount_fen` is
    what it paid, positive); booked as a negative remittance."""
    return await _settle_with_money(
        session, principal, statement_id, "recovered", -amount_fen, reference, paid_on
    )


async def reopen_after_correction(session: AsyncSession, statement: Statement) -> None:
    """A correction left no remittance on a paid (or recovered) statement: it is confirmed
    again and waits for the right payment; the corrected one stays in the ledger."""
    if statement.status not in SETTLED:
        return
    if await statement_repository.remitted(session, statement.id) != 0:
        return
    _advance(statement, "confirmed")
    statement.paid_fen = None
    statement.paid_on = None
    statement.payment_reference = None
    statement.paid_recorded_at = None
    await session.flush()


@dataclass(frozen=True)
class StatementView:
    """Everything a statement shows: its lines (and which are held), the flags and review of
    each disputed settlement, what was released or carried into it and where it went."""

    statement: Statement
    rows: Sequence[Settlement]
    held: dict[uuid.UUID, bool]
    flags: dict[uuid.UUID, list[SettlementFlag]]
    reviews: dict[uuid.UUID, FlagReview]
    disputes: dict[uuid.UUID, Dispute]
    released: Sequence[tuple[Settlement, Statement]]
    released_into: dict[uuid.UUID, uuid.UUID]
    carried_in: Sequence[tuple[StatementCarry, Statement]]
    carried_out: tuple[StatementCarry, Statement] | None


async def view(session: AsyncSession, statement_id: uuid.UUID) -> StatementView:
    """A statement with what its JSON, CSV and reconciliation show."""
    statement, rows = await detail(session, statement_id)
    lines = await statement_repository.lines_of(session, [r.id for r in rows])
    released = await statement_repository.releases_into(session, statement.id)
    subjects = list({original_of(r) for r in rows} | {original_of(s) for s, _ in released})
    flags = await flag_repository.flags_of(session, subjects)
    reviews = await flag_repository.reviews_by_id(
        session, list({f.review_id for fs in flags.values() for f in fs if f.review_id})
    )
    held = {r.id: lines[r.id].held for r in rows if r.id in lines}
    return StatementView(
        statement=statement,
        rows=rows,
        held=held,
        flags=flags,
        reviews=reviews,
        disputes=await flag_repository.disputes(session, subjects),
        released=released,
        released_into=await statement_repository.release_of(
            session, [i for i, is_held in held.items() if is_held]
        ),
        carried_in=await statement_repository.carries_into(session, statement.id),
        carried_out=await statement_repository.carry_of(session, statement.id),
    )


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
    "review",
    "payable_fen",
)


@dataclass(frozen=True)
class ExportLine:
    """One line of a statement's exports (CSV and workbook), before either formats it.

    `kind` is settlement, reversal, released (an earlier held settlement paid here) or
    carried_in (an earlier statement's negative payable; `subject_id` is that statement).
    `review` is disputed or flagged for the month's own lines; `month` is the month a released
    line was held in, or the month a carried payable comes from. Columns a kind has no value
    for are None.
    """

    at: datetime
    kind: str
    subject_id: uuid.UUID
    payable_fen: int
    reverses_id: uuid.UUID | None = None
    message_id: str | None = None
    order_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None
    disease_code: str | None = None
    insurance_type: str | None = None
    med_type: str | None = None
    amounts_fen: tuple[int, int, int, int] | None = None
    review: str = ""
    month: str | None = None


def _review_mark(current: StatementView, row: Settlement) -> str:
    """How a line's flags affect this statement: disputed (held out), or flagged after the
    statement counted it ('flagged'), or nothing."""
    if current.held.get(row.id):
        return "disputed"
    return "flagged" if current.flags.get(original_of(row)) else ""


def export_lines(current: StatementView) -> list[ExportLine]:
    """The statement's lines as both exports show them: each settlement or reversal of the
    month (disputed ones pay nothing here), each settlement released into it, each negative
    payable carried into it. Their payable_fen sums to the statement's payable."""
    codes = {uuid.UUID(b["disease_id"]): b["disease_code"] for b in current.statement.breakdown}
    own = [
        ExportLine(
            at=to_shanghai(row.settled_at),
            kind=row.kind,
            subject_id=row.id,
            payable_fen=0 if current.held.get(row.id) else payable_of(row),
            reverses_id=row.reverses_id,
            message_id=row.message_id,
            order_id=row.order_id,
            patient_id=row.patient_id,
            disease_code=codes.get(row.disease_id, ""),
            insurance_type=row.insurance_type,
            med_type=row.med_type,
            amounts_fen=(row.total_fen, row.fund_fen, row.account_fen, row.cash_fen),
            review=_review_mark(current, row),
        )
        for row in current.rows
    ]
    released = [
        ExportLine(
            at=to_shanghai(row.settled_at),
            kind="released",
            subject_id=row.id,
            payable_fen=payable_of(row),
            reverses_id=row.reverses_id,
            message_id=row.message_id,
            order_id=row.order_id,
            patient_id=row.patient_id,
            insurance_type=row.insurance_type,
            med_type=row.med_type,
            month=held_in.month,
        )
        for row, held_in in current.released
    ]
    carried_in = [
        ExportLine(
            at=to_shanghai(carry.carried_at),
            kind="carried_in",
            subject_id=source.id,
            payable_fen=carry.amount_fen,
            month=source.month,
        )
        for carry, source in current.carried_in
    ]
    return [*own, *released, *carried_in]


def _csv_review(line: ExportLine) -> str:
    if line.kind == "released":
        return f"confirmed, held in {line.month}"
    if line.kind == "carried_in":
        return f"negative payable of {line.month}"
    return line.review


def _blank(value: object) -> object:
    return "" if value is None else value


def to_csv(current: StatementView) -> str:
    """The statement as CSV: one line per export line (`export_lines`), then a totals line.
    The payable_fen column sums to the statement's payable."""
    statement = current.statement
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in export_lines(current):
        writer.writerow(
            (
                line.at.isoformat(),
                line.kind,
                line.subject_id,
                *map(
                    _blank,
                    (
                        line.reverses_id,
                        line.message_id,
                        line.order_id,
                        line.patient_id,
                        line.disease_code,
                        line.insurance_type,
                        line.med_type,
                    ),
                ),
                *(line.amounts_fen or ("",) * 4),
                _csv_review(line),
                line.payable_fen,
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
            f"held {statement.held_fen} / released {statement.released_fen} / "
            f"carried in {statement.carried_in_fen}",
            statement.payable_fen,
        )
    )
    return buffer.getvalue()
