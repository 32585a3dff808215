"""Monthly statements per designated institution: frozen totals, bureau confirmation, payment."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, UUIDPrimaryKey

# Every status a statement may hold (the legal moves between them: app.insurance.statements).
# 'carried': a negative payable moved into a later statement; 'recovered': the institution paid
# a negative payable back to the bureau.
STATEMENT_STATUSES = ("generated", "confirmed", "paid", "carried", "recovered")


class Statement(UUIDPrimaryKey, Base):
    """An institution's month: what it booked, what the bureau owes for it, and its payment.

    payable = fund + account - held + released + carried_in, where held is the payable share
    of settlements under review (disputed), released that of earlier held settlements the
    bureau has since confirmed, and carried_in the negative payables of earlier statements.
    """

    __tablename__ = "insurance_statements"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in STATEMENT_STATUSES) + ")", name="status"
        ),
        UniqueConstraint(
            "institution_id", "month", name="uq_insurance_statements_institution_month"
        ),
    )

    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    month: Mapped[str] = mapped_column(String(7), nullable=False)  # YYYY-MM, Asia/Shanghai
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    settlement_count: Mapped[int] = mapped_column(Integer, nullable=False)
    reversal_count: Mapped[int] = mapped_column(Integer, nullable=False)
    total_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fund_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    account_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cash_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    held_fen: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    released_fen: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    carried_in_fen: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    # Fund share and counts per (disease, insurance type), frozen with the statement.
    breakdown: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=False
    )
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    generated_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
    paid_fen: Mapped[int | None] = mapped_column(BigInteger)
    paid_on: Mapped[date | None] = mapped_column(Date)
    payment_reference: Mapped[str | None] = mapped_column(String(64))
    paid_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def payable_fen(self) -> int:
        """What the bureau owes the institution for this statement (negative: is owed)."""
        return (
            self.fund_fen
            + self.account_fen
            - self.held_fen
            + self.released_fen
            + self.carried_in_fen
        )


class StatementLine(Base):
    """Which settlements and reversals a statement covers (frozen at generation); a held line
    was under review then and is left out of the payable until the bureau confirms it."""

    __tablename__ = "insurance_statement_lines"

    statement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_statements.id"), primary_key=True
    )
    settlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), primary_key=True, unique=True
    )
    held: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())


class StatementRelease(Base):
    """A held line brought into a later statement's payable once its review confirmed it
    (released once: the settlement is unique)."""

    __tablename__ = "insurance_statement_releases"

    statement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_statements.id"), primary_key=True
    )
    settlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), primary_key=True, unique=True
    )


class StatementCarry(Base):
    """A confirmed statement's negative payable carried into a later statement (once)."""

    __tablename__ = "insurance_statement_carries"
    __table_args__ = (CheckConstraint("amount_fen < 0", name="amount_negative"),)

    statement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_statements.id"), primary_key=True
    )
    into_statement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_statements.id"), nullable=False, index=True
    )
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    carried_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
