"""Doctors: the clinical profile behind a doctor account."""

from __future__ import annotations

import uuid

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Doctor(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "doctors"
    __table_args__ = (CheckConstraint("max_active_patients > 0", name="capacity_positive"),)

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), unique=True, nullable=False
    )
    institution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("institutions.id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    department_zh: Mapped[str] = mapped_column(String(32), nullable=False)
    title_zh: Mapped[str] = mapped_column(String(32), nullable=False)
    # Disease codes the doctor treats (e.g. ["M01600", "M03900"]).
    specialties: Mapped[list[str]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=False, default=list
    )
    max_active_patients: Mapped[int] = mapped_column(Integer, nullable=False, default=200)
