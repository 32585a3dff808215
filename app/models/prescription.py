"""E-prescriptions: the formulary per catalogue disease, prescriptions and their items, the
state history, the hospital pharmacists who review them and the doctors' signing keys."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.audit_event import BigIntPK
from app.models.base import Base, CreatedAt, UUIDPrimaryKey

PRESCRIPTION_STATUSES = (
    "draft",
    "pending_review",
    "rejected",
    "approved",
    "ordered",
    "dispensed",
    "revoked",
)
_STATUS_LIST = ",".join(f"'{s}'" for s in PRESCRIPTION_STATUSES)


class FormularyItem(Base):
    """A drug the online service may prescribe for a catalogue disease, with its dose ceiling."""

    __tablename__ = "formulary_items"
    __table_args__ = (
        CheckConstraint("max_daily_quantity > 0", name="max_daily_positive"),
        CheckConstraint("units_per_pack > 0", name="units_per_pack_positive"),
    )

    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), primary_key=True
    )
    drug_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("drugs.id"), primary_key=True)
    # Drugs of one class treat the same thing: two at once is duplicate therapy.
    therapeutic_class: Mapped[str] = mapped_column(String(32), nullable=False)
    # What one dose is counted in (片, 粒, 单位) and how many of those a pack holds.
    dose_unit: Mapped[str] = mapped_column(String(8), nullable=False)
    units_per_pack: Mapped[int] = mapped_column(Integer, nullable=False)
    max_daily_quantity: Mapped[Decimal] = mapped_column(Numeric(8, 2), nullable=False)
    default_route: Mapped[str] = mapped_column(String(16), nullable=False)


class PrescriptionReviewer(UUIDPrimaryKey, CreatedAt, Base):
    """A hospital pharmacist who reviews the prescriptions written at an institution."""

    __tablename__ = "prescription_reviewers"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), unique=True, nullable=False
    )
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False, index=True
    )


SIGNING_KEY_STATUSES = ("pending", "active", "retired", "revoked")
_KEY_STATUS_LIST = ",".join(f"'{s}'" for s in SIGNING_KEY_STATUSES)


class DoctorSigningKey(UUIDPrimaryKey, CreatedAt, Base):
    """A doctor's Ed25519 public key. The private half never reaches the service: the doctor's
    device generates it, registers the public half with a proof of possession (the doctor's
    act), and an admin activates it after checking its fingerprint with the doctor (the
    admin's act). One key per doctor is active; a retired or revoked key still verifies what
    was signed while it was active, and signs nothing new.

    `origin` 'server_legacy' marks the keys the service generated before 20261206 (their
    private halves were dropped by that migration; they are retired)."""

    __tablename__ = "doctor_signing_keys"
    __table_args__ = (
        CheckConstraint(f"status IN ({_KEY_STATUS_LIST})", name="status"),
        CheckConstraint("origin IN ('device','server_legacy')", name="origin"),
        CheckConstraint(
            "status IN ('pending','revoked') OR activated_at IS NOT NULL", name="activated"
        ),
        Index(
            "uq_doctor_signing_keys_active",
            "doctor_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    doctor_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("doctors.id"), nullable=False, index=True
    )
    algorithm: Mapped[str] = mapped_column(String(16), nullable=False, default="Ed25519")
    public_key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)  # raw, b64
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    origin: Mapped[str] = mapped_column(String(16), nullable=False, default="device")
    device_label: Mapped[str | None] = mapped_column(String(64))
    # The doctor's act: their account registered it, with the key's signature over the
    # registration statement (app.prescription.signing.registration_statement).
    registered_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
    registration_proof: Mapped[str | None] = mapped_column(String(128))
    # The admin's act.
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a newer key activated
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))


class Prescription(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "prescriptions"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_LIST})", name="status"),
        CheckConstraint("valid_days BETWEEN 1 AND 3", name="valid_days"),
        CheckConstraint("days_supply BETWEEN 1 AND 84", name="days_supply"),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        UniqueConstraint("doctor_id", "idempotency_key", name="uq_prescriptions_key"),
        Index("ix_prescriptions_patient_status", "patient_id", "status"),
        Index("ix_prescriptions_review_queue", "institution_id", "status"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), nullable=False)
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), nullable=False
    )
    entitlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("entitlements.id"), nullable=False
    )
    consultation_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("consultation_requests.id")
    )
    renewal_of_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("prescriptions.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    diagnosis_zh: Mapped[str] = mapped_column(String(200), nullable=False)
    is_long: Mapped[bool] = mapped_column(nullable=False, default=False)
    # Calendar days in the city: valid from `written_on` for `valid_days` days (1, up to 3).
    written_on: Mapped[date] = mapped_column(Date, nullable=False)
    valid_days: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    days_supply: Mapped[int] = mapped_column(Integer, nullable=False)
    total_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # Set by signing: the exact canonical bytes signed (UTF-8 JSON), the signature, the key.
    signed_content: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(String(128))
    signing_key_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("doctor_signing_keys.id")
    )
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_reason: Mapped[str | None] = mapped_column(String(500))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoke_reason: Mapped[str | None] = mapped_column(String(500))


class PrescriptionItem(UUIDPrimaryKey, Base):
    __tablename__ = "prescription_items"
    __table_args__ = (
        UniqueConstraint("prescription_id", "line_no", name="uq_prescription_items_line"),
        CheckConstraint("packs > 0", name="packs_positive"),
        CheckConstraint("days_supply BETWEEN 1 AND 84", name="days_supply"),
        CheckConstraint("amount_fen = packs * unit_price_fen", name="amount_reconciles"),
    )

    prescription_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("prescriptions.id"), nullable=False, index=True
    )
    line_no: Mapped[int] = mapped_column(Integer, nullable=False)
    drug_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("drugs.id"), nullable=False)
    # A decimal string ("0.5", "12"): exact, and signed as written.
    dose_quantity: Mapped[str] = mapped_column(String(12), nullable=False)
    dose_unit: Mapped[str] = mapped_column(String(8), nullable=False)
    frequency: Mapped[str] = mapped_column(String(8), nullable=False)
    route: Mapped[str] = mapped_column(String(16), nullable=False)
    days_supply: Mapped[int] = mapped_column(Integer, nullable=False)
    packs: Mapped[int] = mapped_column(Integer, nullable=False)
    unit_price_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)


class PrescriptionTransition(Base):
    """One step of a prescription through its state machine: who, when, why."""

    __tablename__ = "prescription_transitions"
    __table_args__ = (Index("ix_prescription_transitions_rx", "prescription_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    prescription_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("prescriptions.id"), nullable=False
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    reason: Mapped[str | None] = mapped_column(String(500))
