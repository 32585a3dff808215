"""The chronic-disease catalogue as effective-dated editions: which diseases are listed, which
the online service admits, and each disease's annual limit per insurance type.

An edition is a complete, immutable snapshot; the edition in force on a day is the one with the
latest `effective_from` on or before it. Publishing a change means publishing a new edition that
takes effect later, so what was in force on any past day never changes.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class CatalogueEdition(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "catalogue_editions"

    # A calendar day in the city (Asia/Shanghai): the edition is in force from its start.
    effective_from: Mapped[date] = mapped_column(Date, unique=True, nullable=False)
    note: Mapped[str] = mapped_column(String(200), nullable=False)
    published_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )


class CatalogueEntry(Base):
    __tablename__ = "catalogue_entries"

    edition_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("catalogue_editions.id"), primary_key=True
    )
    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), primary_key=True
    )
    online_admitted: Mapped[bool] = mapped_column(Boolean, nullable=False)


class CatalogueLimit(Base):
    __tablename__ = "catalogue_limits"
    __table_args__ = (
        CheckConstraint("annual_limit_fen >= 0", name="limit_not_negative"),
        CheckConstraint("insurance_type IN ('310','390')", name="insurance_type"),
    )

    edition_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("catalogue_editions.id"), primary_key=True
    )
    disease_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("chronic_diseases.id"), primary_key=True
    )
    insurance_type: Mapped[str] = mapped_column(String(3), primary_key=True)
    annual_limit_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
