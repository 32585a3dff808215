"""Reconciliation: the statement, the ledger and the payments must agree to the fen.

Every disagreement is listed (never just a yes/no): a settlement whose ledger entries differ
from its row, a statement total that differs from its lines, a settlement of the month missing
from the statement, an unbalanced ledger transaction, a payment whose booking differs from its
record, a personal share not (or over-) collected, a bureau payment (or recovery) different from
what the statement says is owed, and held, released or carried amounts that differ from the
lines behind them. Beside the differences it shows what explains the payable: the disputed
lines and their flags, the releases, the carries, every remittance posting and every bureau
correction of the ledger that touches the statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.insurance import repository as insurance_repository
from app.insurance import statement_repository, statement_views
from app.insurance import statements as statement_service
from app.insurance.schemas import Difference, LedgerCorrectionOut, Reconciliation, Remittance
from app.insurance.statements import StatementView, payable_of
from app.kit.clock import to_shanghai
from app.ledger import repository as ledger_repository
from app.ledger.posting import Account
from app.models import Settlement, Statement
from app.payment import repository as payment_repository

# Which ledger account must hold which column of a settlement row.
LEDGER_COLUMNS = (
    (Account.drug_supply, "total_fen", -1),
    (Account.fund_receivable, "fund_fen", 1),
    (Account.account_receivable, "account_fen", 1),
    (Account.patient_receivable, "cash_fen", 1),
)


def _difference(kind: str, expected: int, actual: int, detail: str, **ids: uuid.UUID) -> Difference:
    return Difference(
        kind=kind,
        expected_fen=expected,
        actual_fen=actual,
        difference_fen=actual - expected,
        detail=detail,
        **ids,
    )


def _statement_totals(current: StatementView) -> list[Difference]:
    statement = current.statement
    recomputed = {
        **statement_service.totals(current.rows),
        "held_fen": sum(payable_of(r) for r in current.rows if current.held.get(r.id)),
        "released_fen": sum(payable_of(r) for r, _ in current.released),
        "carried_in_fen": sum(carry.amount_fen for carry, _ in current.carried_in),
    }
    return [
        _difference("statement_total", recomputed[name], getattr(statement, name), name)
        for name in (
            "total_fen",
            "fund_fen",
            "account_fen",
            "cash_fen",
            "held_fen",
            "released_fen",
            "carried_in_fen",
        )
        if recomputed[name] != getattr(statement, name)
    ]


def _expected_remittance(current: StatementView) -> int:
    """What the ledger should hold as remitted: the payable once paid or recovered; nothing
    before that, or when the payable was carried into a later statement."""
    statement = current.statement
    return statement.payable_fen if statement.status in statement_service.SETTLED else 0


async def _ledger_lines(session: AsyncSession, rows: Sequence[Settlement]) -> list[Difference]:
    sums = await statement_repository.ledger_sums(
        session, [r.id for r in rows], ("settlement", "reversal")
    )
    return [
        _difference(
            "ledger_line",
            sign * getattr(row, column),
            sums.get((row.id, account), 0),
            f"{account} vs {column}",
            settlement_id=row.id,
        )
        for row in rows
        for account, column, sign in LEDGER_COLUMNS
        if sums.get((row.id, account), 0) != sign * getattr(row, column)
    ]


async def _missing(
    session: AsyncSession, statement: Statement, rows: Sequence[Settlement]
) -> list[Difference]:
    start, end = statement_service.month_window(statement.month)
    covered = {r.id for r in rows}
    booked = await statement_repository.settlements_between(
        session, statement.institution_id, start, end
    )
    return [
        _difference(
            "missing_from_statement", 0, row.fund_fen, "booked in the month", settlement_id=row.id
        )
        for row in booked
        if row.id not in covered
    ]


async def _payments(session: AsyncSession, rows: Sequence[Settlement]) -> list[Difference]:
    originals = [r for r in rows if r.kind == "settlement"]
    ids = [r.id for r in originals]
    reversals = await insurance_repository.reversals_of(session, ids)
    payments = await payment_repository.payments_of(session, ids)
    refunded = await payment_repository.refunded_totals(session, [p.id for p in payments])
    booked = await statement_repository.collected_by_payment(session, ids)
    differences: list[Difference] = []
    collected: dict[uuid.UUID, int] = {}
    for payment in payments:
        recorded = (payment.amount_fen if payment.status == "succeeded" else 0) - refunded.get(
            payment.id, 0
        )
        collected[payment.settlement_id] = collected.get(payment.settlement_id, 0) + recorded
        if booked.get(payment.id, 0) != recorded:
            differences.append(
                _difference(
                    "payment_ledger",
                    recorded,
                    booked.get(payment.id, 0),
                    f"{payment.method} payment vs its ledger entries",
                    settlement_id=payment.settlement_id,
                    payment_id=payment.id,
                )
            )
    for row in originals:
        due = 0 if row.id in reversals else row.cash_fen
        got = collected.get(row.id, 0)
        if got != due:
            kind = "personal_share_unpaid" if got < due else "personal_share_overpaid"
            differences.append(
                _difference(kind, due, got, "cash share vs collected", settlement_id=row.id)
            )
    return differences


async def _remittances(session: AsyncSession, statement: Statement) -> list[Remittance]:
    postings = await statement_repository.remittance_transactions(session, statement.id)
    corrections = await ledger_repository.corrections_by_transaction(
        session, [t for t, _, _ in postings]
    )
    return [
        Remittance(
            transaction_id=transaction_id,
            amount_fen=amount,
            posted_at=to_shanghai(posted_at),
            corrected=transaction_id in corrections
            and corrections[transaction_id].corrected_transaction_id == transaction_id,
            is_correction=transaction_id in corrections
            and corrections[transaction_id].correction_transaction_id == transaction_id,
        )
        for transaction_id, amount, posted_at in postings
    ]


async def reconcile(session: AsyncSession, statement_id: uuid.UUID) -> Reconciliation:
    """Compare a statement with the ledger and the payments; list every difference."""
    return await reconciled(session, await statement_service.view(session, statement_id))


async def reconciled(session: AsyncSession, current: StatementView) -> Reconciliation:
    """The reconciliation of a statement already read (the workbook shows both)."""
    statement, rows = current.statement, current.rows
    differences = [
        *_statement_totals(current),
        *await _ledger_lines(session, rows),
        *await _missing(session, statement, rows),
        *[
            _difference("unbalanced_transaction", 0, total, f"transaction {transaction_id}")
            for transaction_id, total in await statement_repository.unbalanced_transactions(
                session, [r.id for r in rows]
            )
        ],
        *await _payments(session, rows),
    ]
    remitted = await statement_repository.remitted(session, statement.id)
    expected = _expected_remittance(current)
    if remitted != expected:
        differences.append(
            _difference("remittance", expected, remitted, "bureau payment vs payable")
        )
    corrections = await statement_repository.corrections_touching(
        session, statement.id, [r.id for r in rows]
    )
    return Reconciliation(
        statement_id=statement.id,
        month=statement.month,
        institution_id=statement.institution_id,
        status=statement.status,
        agrees=not differences,
        payable_fen=statement.payable_fen,
        held_fen=statement.held_fen,
        released_fen=statement.released_fen,
        carried_in_fen=statement.carried_in_fen,
        remitted_fen=remitted,
        carried_out=statement_views.carried_out(current),
        differences=differences,
        disputed=statement_views.disputed(current),
        released=statement_views.released(current),
        remittances=await _remittances(session, statement),
        corrections=[LedgerCorrectionOut.from_row(c) for c in corrections],
    )
