"""Patients: the insured person behind a patient account, with encrypted identifiers."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import EncryptedString
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Patient(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("insurance_type IN ('310','390')", name="insurance_type"),
        CheckConstraint("gender IN ('male','female','unknown')", name="gender"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), unique=True, nullable=False
    )
    # Filled in by the patient after the first WeChat sign-in.
    name: Mapped[str | None] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(8), nullable=False, default="unknown")
    birth_date: Mapped[date | None] = mapped_column(Date)
    national_id: Mapped[str | None] = mapped_column(EncryptedString(255))
    # Keyed hash of the national ID: uniqueness and lookup without decrypting.
    national_id_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(EncryptedString(255))
    # 310 employee basic insurance, 390 urban-rural resident basic insurance.
    insurance_type: Mapped[str] = mapped_column(String(3), nullable=False, default="390")
    district_code: Mapped[str | None] = mapped_column(String(6), ForeignKey("districts.code"))
    address: Mapped[str | None] = mapped_column(EncryptedString(512))
    timezone: Mapped[str] = mapped_column(String(40), nullable=False, default="Asia/Shanghai")
