"""Monthly statements per designated institution: frozen totals, bureau confirmation, payment."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, UUIDPrimaryKey


class Statement(UUIDPrimaryKey, Base):
    __tablename__ = "insurance_statements"
    __table_args__ = (
        CheckConstraint("status IN ('generated','confirmed','paid')", name="status"),
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


class StatementLine(Base):
    """Which settlements and reversals a statement covers (frozen at generation)."""

    __tablename__ = "insurance_statement_lines"

    statement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_statements.id"), primary_key=True
    )
    settlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), primary_key=True, unique=True
    )
