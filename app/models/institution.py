"""Designated medical institutions (the catalogue-disease hospitals)."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Institution(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "institutions"
    __table_args__ = (CheckConstraint("level IN ('secondary','tertiary')", name="level"),)

    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    name_en: Mapped[str] = mapped_column(String(128), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    district_code: Mapped[str] = mapped_column(
        String(6), ForeignKey("districts.code"), nullable=False
    )
    is_designated: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    is_online_pilot: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
