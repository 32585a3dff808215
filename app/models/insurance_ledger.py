"""The insurance ledger: append-only, double-entry postings in fen.

Every transaction (a settlement, reversal, payment, refund or remittance) is a set of rows with
one `transaction_id` whose amounts sum to zero; the database refuses updates and deletes.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.audit_event import BigIntPK
from app.models.base import Base, UUIDPrimaryKey


class LedgerEntry(Base):
    __tablename__ = "insurance_ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('settlement','reversal','payment','refund','remittance')", name="kind"
        ),
        CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
        Index("ix_insurance_ledger_entries_institution_time", "institution_id", "posted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    account: Mapped[str] = mapped_column(String(32), nullable=False)
    # Debits positive, credits negative.
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    patient_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("patients.id"))
    settlement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), index=True
    )
    payment_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("payments.id"))
    statement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insurance_statements.id")
    )
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class LedgerCorrection(UUIDPrimaryKey, Base):
    """A bureau correction of a ledger mistake: `correction_transaction_id` holds entries that
    negate every entry of `corrected_transaction_id` (same kind and references), so the ledger
    stays append-only; who, when and why are kept here. A transaction is corrected once."""

    __tablename__ = "insurance_ledger_corrections"

    corrected_transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, unique=True)
    correction_transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, unique=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False, index=True
    )
    statement_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insurance_statements.id"), index=True
    )
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("accounts.id"), nullable=False)
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
