"""Benefit rules: deductible and reimbursement ratios per insurance type, catalogue disease,
institution level and year - versioned and immutable once written. The annual limit is the
catalogue's (按病种限额, per disease and insurance type; app.models.catalogue), not a rule's."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class BenefitRule(UUIDPrimaryKey, CreatedAt, Base):
    """One version of a benefit rule; a change is a new row with a later version."""

    __tablename__ = "insurance_benefit_rules"
    __table_args__ = (
        CheckConstraint("insurance_type IN ('310','390')", name="insurance_type"),
        CheckConstraint("institution_level IN ('secondary','tertiary')", name="institution_level"),
        CheckConstraint("deductible_fen >= 0", name="deductible_not_negative"),
        CheckConstraint("reimbursement_bp BETWEEN 0 AND 10000", name="reimbursement_bp"),
        CheckConstraint("partial_prepay_bp BETWEEN 0 AND 10000", name="partial_prepay_bp"),
        UniqueConstraint(
            "insurance_type",
            "disease_id",
            "institution_level",
            "year",
            "version",
            name="uq_insurance_benefit_rules_version",
        ),
        Index(
            "ix_insurance_benefit_rules_key",
            "insurance_type",
            "disease_id",
            "institution_level",
            "year",
            "effective_from",
        ),
    )

    insurance_type: Mapped[str] = mapped_column(String(3), nullable=False)
    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), nullable=False
    )
    institution_level: Mapped[str] = mapped_column(String(16), nullable=False)
    year: Mapped[int] = mapped_column(Integer, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The first day (Asia/Shanghai) this version applies to; never earlier than when it was made.
    effective_from: Mapped[date] = mapped_column(Date, nullable=False)
    deductible_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # Ratios in basis points (1/10000) so that no float ever touches money.
    reimbursement_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    # Category-B (partial) drugs: the share the patient pays first, before the ratio applies.
    partial_prepay_bp: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    created_by_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
