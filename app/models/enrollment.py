"""Enrollment: applications with medical-record attachments, their reviewers, entitlements."""

from __future__ import annotations

import uuid
from datetime import date, datetime

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class EnrollmentReviewer(UUIDPrimaryKey, CreatedAt, Base):
    """A doctor who reviews the enrollment applications made at their institution."""

    __tablename__ = "enrollment_reviewers"
    __table_args__ = (
        Index(
            "uq_enrollment_reviewers_active",
            "doctor_id",
            "institution_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    doctor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("doctors.id"), nullable=False)
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False, index=True
    )
    granted_by_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), nullable=False
    )
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EnrollmentApplication(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "enrollment_applications"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft','pending','approved','rejected','withdrawn')", name="status"
        ),
        CheckConstraint("diagnosed_year >= 1900", name="diagnosed_year_plausible"),
        # Re-applying while an application for the same disease is open is refused.
        Index(
            "uq_enrollment_applications_open",
            "patient_id",
            "disease_id",
            unique=True,
            sqlite_where=text("status IN ('draft','pending')"),
            postgresql_where=text("status IN ('draft','pending')"),
        ),
        UniqueConstraint("patient_id", "idempotency_key", name="uq_enrollment_applications_key"),
        Index("ix_enrollment_applications_queue", "institution_id", "status", "submitted_at"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), nullable=False
    )
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    # The patient's own words: symptoms, history, what the records show.
    statement: Mapped[str | None] = mapped_column(String(1000))
    # The year the disease was diagnosed, as the patient declares it and the reviewer confirms
    # or corrects it from the records: the disease course (病程) the assignment weighs. Empty
    # on applications made before it was asked.
    diagnosed_year: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_doctor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("doctors.id"))
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    # The catalogue edition the decision was taken under (what was admitted that day).
    catalogue_edition_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("catalogue_editions.id")
    )


class EnrollmentRecord(UUIDPrimaryKey, CreatedAt, Base):
    """One medical-record file attached to an application; the bytes live in the blob store."""

    __tablename__ = "enrollment_records"

    application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("enrollment_applications.id"), nullable=False, index=True
    )
    blob_key: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    content_type: Mapped[str] = mapped_column(String(64), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    filename: Mapped[str] = mapped_column(String(128), nullable=False)


class Entitlement(UUIDPrimaryKey, CreatedAt, Base):
    """An approved application: the patient may be treated for the disease until `valid_until`."""

    __tablename__ = "entitlements"
    __table_args__ = (
        CheckConstraint("valid_until >= valid_from", name="validity_order"),
        Index("ix_entitlements_patient_validity", "patient_id", "valid_until"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("patients.id"), nullable=False)
    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), nullable=False
    )
    # The institution that approved it; care may then happen at any designated institution.
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False
    )
    application_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("enrollment_applications.id"), unique=True, nullable=False
    )
    # Calendar days in the city, both inclusive.
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_until: Mapped[date] = mapped_column(Date, nullable=False)
