"""Pharmacy staff (pharmacists, couriers): which store an account works for."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class PharmacyStaff(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "pharmacy_staff"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), unique=True, nullable=False
    )
    store_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_stores.id"), nullable=False, index=True
    )
