"""Pre-settlement quotes, settlements and reversals (append-only) with their drug lines."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, UUIDPrimaryKey


def split_checks() -> tuple[CheckConstraint, ...]:
    """The reconciliation invariants every split row satisfies (fresh objects per table)."""
    return (
        CheckConstraint("total_fen = fund_fen + personal_fen", name="total_split"),
        CheckConstraint("personal_fen = account_fen + cash_fen", name="personal_split"),
    )


class SplitColumns:
    """The split of one claim in fen (signed: a reversal carries the negated amounts)."""

    total_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    fund_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    personal_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    account_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cash_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    self_pay_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    partial_prepay_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    deductible_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    copay_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    over_limit_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    limit_remaining_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ClaimColumns:
    """Who, where and what a claim is about; order_id refers to the order flow (no FK)."""

    order_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, index=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    store_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("pharmacy_stores.id"))
    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), nullable=False
    )
    insurance_type: Mapped[str] = mapped_column(String(3), nullable=False)
    med_type: Mapped[str] = mapped_column(String(4), nullable=False)
    benefit_rule_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_benefit_rules.id"), nullable=False
    )
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    service_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # The verified identity the claim was settled with (None only on rows from before
    # identities were verified).
    insured_identity_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insured_identities.id"), index=True
    )


class Presettlement(UUIDPrimaryKey, ClaimColumns, SplitColumns, Base):
    """A quote shown before the patient commits; it books nothing. Its split is the local
    rules' estimate; where the insurance platform is configured, the platform's pre-settlement
    (2206) is kept beside it (`platform_*`), or `unavailable` when it could not be had."""

    __tablename__ = "insurance_presettlements"
    __table_args__ = (
        *split_checks(),
        CheckConstraint("platform_status IN ('presettled','unavailable')", name="platform_status"),
        CheckConstraint(
            "(COALESCE(platform_status, '') = 'presettled') = (platform_fund_fen IS NOT NULL)",
            name="platform_split_when_presettled",
        ),
    )

    message_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lines: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=False
    )
    # None where no platform is configured.
    platform_status: Mapped[str | None] = mapped_column(String(16))
    # The 2206 message the platform answered.
    platform_msgid: Mapped[str | None] = mapped_column(String(30))
    platform_total_fen: Mapped[int | None] = mapped_column(BigInteger)
    platform_fund_fen: Mapped[int | None] = mapped_column(BigInteger)
    platform_account_fen: Mapped[int | None] = mapped_column(BigInteger)
    platform_cash_fen: Mapped[int | None] = mapped_column(BigInteger)


class Settlement(UUIDPrimaryKey, ClaimColumns, SplitColumns, Base):
    """A settlement, or the reversal of one (kind 'reversal', negated amounts, `reverses_id`)."""

    __tablename__ = "insurance_settlements"
    __table_args__ = (
        *split_checks(),
        CheckConstraint("kind IN ('settlement','reversal')", name="kind"),
        CheckConstraint(
            "(kind = 'settlement' AND reverses_id IS NULL) OR "
            "(kind = 'reversal' AND reverses_id IS NOT NULL)",
            name="reversal_refers",
        ),
        Index("ix_insurance_settlements_institution_time", "institution_id", "settled_at"),
    )

    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # The insurer-side request id: a retried settle/reverse with the same id books nothing new.
    message_id: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    reverses_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), unique=True
    )
    reason: Mapped[str | None] = mapped_column(String(200))
    settled_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class SettlementItem(Base):
    """One drug line of a settlement as priced and classed at that moment."""

    __tablename__ = "insurance_settlement_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_fen >= 0", name="price_not_negative"),
        CheckConstraint("insurance_class IN ('full','partial','self_pay')", name="insurance_class"),
    )

    settlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    drug_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("drugs.id"), nullable=False)
    national_code: Mapped[str] = mapped_column(String(32), nullable=False)
    name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    insurance_class: Mapped[str] = mapped_column(String(16), nullable=False)
    self_pay_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    partial_prepay_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)


class FlagReview(UUIDPrimaryKey, Base):
    """The bureau's decision on the open flags of a settlement: confirmed (it is paid) or
    rejected (it is reversed; `reversal_id`)."""

    __tablename__ = "insurance_flag_reviews"
    __table_args__ = (
        CheckConstraint("decision IN ('confirmed','rejected')", name="decision"),
        Index("ix_insurance_flag_reviews_settlement", "settlement_id", "decided_at"),
    )

    settlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), nullable=False
    )
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    note: Mapped[str] = mapped_column(String(500), nullable=False)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("accounts.id"), nullable=False)
    reviewer_name: Mapped[str] = mapped_column(String(64), nullable=False)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reversal_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id")
    )


class SettlementFlag(UUIDPrimaryKey, Base):
    """A reviewer's doubt about a settlement (claim review); one per reviewer and settlement.
    Open until a bureau review (`review_id`) decides it; while open the settlement is held out
    of its statement's payable (the Huanghua family doctors' 存疑). Role `platform` is the
    service's own flag, without an account, when the insurance platform settled another split
    than the local estimate (at most one per settlement; it holds nothing: the platform's split
    is what was booked)."""

    __tablename__ = "insurance_settlement_flags"
    __table_args__ = (
        CheckConstraint("role IN ('doctor','bureau','platform')", name="role"),
        CheckConstraint(
            "(role = 'platform') = (account_id IS NULL)", name="platform_has_no_account"
        ),
        Index("uq_insurance_settlement_flags_reviewer", "settlement_id", "account_id", unique=True),
        Index(
            "uq_insurance_settlement_flags_platform",
            "settlement_id",
            unique=True,
            postgresql_where=text("role = 'platform'"),
            sqlite_where=text("role = 'platform'"),
        ),
    )

    settlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), nullable=False
    )
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    reviewer_name: Mapped[str] = mapped_column(String(64), nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    review_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insurance_flag_reviews.id")
    )
