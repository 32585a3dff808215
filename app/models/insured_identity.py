"""Insured identity: what the patient declares, and what an authoritative source verified.

The two are kept apart on purpose. Money follows only the verified identity bound to an
entitlement, and only while the patient's latest declaration agrees with it. Both tables are
append-only: a correction is a new row (a re-verification supersedes the previous one).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import EncryptedString, UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey

# Where a verified identity came from: a staff member's attestation (until the insurance
# platform answers), or the platform's person query (1101).
IDENTITY_SOURCES = ("staff", "insurer_platform")


class IdentityColumns:
    """Certificate number (encrypted, with its blind index), insurance type, insured area."""

    national_id: Mapped[str] = mapped_column(EncryptedString(255), nullable=False)
    national_id_index: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    # 310 employee basic insurance, 390 urban-rural resident basic insurance.
    insurance_type: Mapped[str] = mapped_column(String(3), nullable=False)
    # The administrative code (6 digits) of the area the person is insured in (参保地).
    insured_area: Mapped[str] = mapped_column(String(6), nullable=False)


class IdentityDeclaration(UUIDPrimaryKey, CreatedAt, IdentityColumns, Base):
    """What a patient says their insured identity is; never used for money on its own."""

    __tablename__ = "identity_declarations"
    __table_args__ = (
        CheckConstraint("insurance_type IN ('310','390')", name="insurance_type"),
        UniqueConstraint("patient_id", "idempotency_key", name="uq_identity_declarations_key"),
        Index("ix_identity_declarations_patient_declared", "patient_id", "declared_at"),
        Index(
            "ix_identity_declarations_review",
            "declared_at",
            sqlite_where=text("needs_review IS TRUE"),
            postgresql_where=text("needs_review IS TRUE"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Set when the certificate number is already held by another patient: staff look into it
    # (the patient is told nothing different, so the answer is no oracle for ID numbers).
    needs_review: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))


class InsuredIdentity(UUIDPrimaryKey, CreatedAt, IdentityColumns, Base):
    """A verified insured identity. The current one of a patient is the one no later record
    supersedes; entitlements bind the one in force when they were approved or re-verified."""

    __tablename__ = "insured_identities"
    __table_args__ = (
        CheckConstraint("insurance_type IN ('310','390')", name="insurance_type"),
        CheckConstraint("source IN ('staff','insurer_platform')", name="source"),
        # Only employees (310) have a personal account (个人账户); no account, no balance.
        CheckConstraint(
            "personal_account IS FALSE OR insurance_type = '310'", name="account_only_employees"
        ),
        CheckConstraint(
            "personal_account_balance_fen >= 0 AND "
            "(personal_account IS TRUE OR personal_account_balance_fen = 0)",
            name="account_balance",
        ),
        # A staff attestation names its author; the platform's answer names its message.
        CheckConstraint(
            "source <> 'staff' OR verified_by_account_id IS NOT NULL", name="staff_named"
        ),
        # One first record per patient, and each record superseded at most once: concurrent
        # verifications of one patient cannot both become current.
        Index(
            "uq_insured_identities_first",
            "patient_id",
            unique=True,
            sqlite_where=text("supersedes_id IS NULL"),
            postgresql_where=text("supersedes_id IS NULL"),
        ),
        Index("ix_insured_identities_patient", "patient_id", "verified_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    supersedes_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insured_identities.id"), unique=True
    )
    personal_account: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The account balance the source reported at verification; what settlements have used
    # since is subtracted from it (`identity.service.account_available`).
    personal_account_balance_fen: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    # The source's own reference: the platform's message id, or the document the clerk saw.
    source_reference: Mapped[str | None] = mapped_column(String(64))
    verified_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class EntitlementIdentity(UUIDPrimaryKey, CreatedAt, Base):
    """A verified identity bound to an entitlement: claims under the entitlement are settled
    with the latest binding. Bound at approval and by each re-verification, never by a profile
    edit; the bindings are the entitlement's identity history (append-only)."""

    __tablename__ = "entitlement_identities"
    __table_args__ = (
        UniqueConstraint(
            "entitlement_id", "insured_identity_id", name="uq_entitlement_identities_pair"
        ),
        Index("ix_entitlement_identities_entitlement", "entitlement_id", "bound_at"),
    )

    entitlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("entitlements.id"), nullable=False
    )
    insured_identity_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insured_identities.id"), nullable=False
    )
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Who bound it: the reviewer who approved, or the clerk who re-verified.
    bound_by_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
