"""Partner pharmacy chains, their stores and the districts each store delivers to."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class PharmacyChain(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "pharmacy_chains"

    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    name_en: Mapped[str] = mapped_column(String(128), nullable=False)


class PharmacyStore(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "pharmacy_stores"
    __table_args__ = (Index("ix_pharmacy_stores_fixmedins_code", "fixmedins_code", unique=True),)

    chain_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_chains.id"), nullable=False, index=True
    )
    code: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    # The national designated-pharmacy code (P + 6-digit area + 5-digit sequence), when the
    # store is a designated pharmacy (app/reference/codes.py).
    fixmedins_code: Mapped[str | None] = mapped_column(String(12))
    name_zh: Mapped[str] = mapped_column(String(64), nullable=False)
    name_en: Mapped[str] = mapped_column(String(128), nullable=False)
    district_code: Mapped[str] = mapped_column(
        String(6), ForeignKey("districts.code"), nullable=False
    )
    address_zh: Mapped[str] = mapped_column(String(128), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class PharmacyStoreCoverage(Base):
    """A district a store delivers to (a store may cover several)."""

    __tablename__ = "pharmacy_store_coverage"

    store_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_stores.id"), primary_key=True
    )
    district_code: Mapped[str] = mapped_column(
        String(6), ForeignKey("districts.code"), primary_key=True, index=True
    )
