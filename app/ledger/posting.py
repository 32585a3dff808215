"""Posting to the append-only, double-entry ledger: every transaction sums to zero.

Accounts (debits positive, credits negative):
- drug_supply: value of drugs handed over (credited by the total of each settlement);
- fund_receivable / account_receivable: what the bureau owes the institution for the fund
  share and the personal-account payment;
- patient_receivable: the cash share the patient still owes (negative = owed to the patient);
- collected_<method>: money received by cash, card, WeChat Pay or Alipay;
- bureau_remittance: money the bureau paid the institution for a monthly statement (negative:
  what the institution paid back for a statement whose payable was negative);
- limit_used / limit_headroom and deductible_met / deductible_open: memo accounts recording the
  quota each settlement consumes and each reversal restores.

A mistake is never updated away: the bureau's correction (app.insurance.corrections) appends a
transaction of the same kind and references that negates the mistaken one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.ledger import repository as ledger_repository
from app.models import Settlement


class Account(StrEnum):
    drug_supply = "drug_supply"
    fund_receivable = "fund_receivable"
    account_receivable = "account_receivable"
    patient_receivable = "patient_receivable"
    bureau_remittance = "bureau_remittance"
    limit_used = "limit_used"
    limit_headroom = "limit_headroom"
    deductible_met = "deductible_met"
    deductible_open = "deductible_open"


def collected(method: str) -> str:
    """The account money received by `method` is booked to."""
    return f"collected_{method}"


class UnbalancedTransaction(ValueError):
    """A transaction whose postings do not sum to zero (a programming error, never stored)."""


@dataclass(frozen=True)
class Posting:
    account: str
    amount_fen: int


@dataclass(frozen=True)
class Refs:
    """What a transaction is about."""

    institution_id: uuid.UUID
    patient_id: uuid.UUID | None = None
    settlement_id: uuid.UUID | None = None
    payment_id: uuid.UUID | None = None
    statement_id: uuid.UUID | None = None


async def post(
    session: AsyncSession,
    kind: str,
    postings: list[Posting],
    refs: Refs,
    transaction_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Append one balanced transaction (zero amounts are dropped); returns its id."""
    if sum(p.amount_fen for p in postings) != 0:
        raise UnbalancedTransaction(f"{kind} postings sum to {sum(p.amount_fen for p in postings)}")
    transaction_id = transaction_id or uuid.uuid4()
    now = utcnow()
    rows = [
        {
            "transaction_id": transaction_id,
            "kind": kind,
            "account": p.account,
            "amount_fen": p.amount_fen,
            "institution_id": refs.institution_id,
            "patient_id": refs.patient_id,
            "settlement_id": refs.settlement_id,
            "payment_id": refs.payment_id,
            "statement_id": refs.statement_id,
            "posted_at": now,
        }
        for p in postings
        if p.amount_fen != 0
    ]
    if rows:
        await ledger_repository.add_entries(session, rows)
    return transaction_id


def settlement_postings(row: Settlement) -> list[Posting]:
    """What a settlement books: drugs supplied against who pays, plus the quota it consumes."""
    return [
        Posting(Account.drug_supply, -row.total_fen),
        Posting(Account.fund_receivable, row.fund_fen),
        Posting(Account.account_receivable, row.account_fen),
        Posting(Account.patient_receivable, row.cash_fen),
        Posting(Account.limit_used, row.fund_fen),
        Posting(Account.limit_headroom, -row.fund_fen),
        Posting(Account.deductible_met, row.deductible_fen),
        Posting(Account.deductible_open, -row.deductible_fen),
    ]


async def post_settlement(session: AsyncSession, row: Settlement) -> None:
    """Book a settlement, or a reversal (its amounts are negated, so the entries mirror)."""
    await post(
        session,
        row.kind,
        settlement_postings(row),
        Refs(row.institution_id, row.patient_id, settlement_id=row.id),
    )


async def post_payment(
    session: AsyncSession,
    kind: str,
    method: str,
    amount_fen: int,
    refs: Refs,
) -> None:
    """Money received (kind 'payment') or given back (kind 'refund', negative amount)."""
    await post(
        session,
        kind,
        [Posting(collected(method), amount_fen), Posting(Account.patient_receivable, -amount_fen)],
        refs,
    )
