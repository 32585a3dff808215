"""Idempotency keys with the fingerprint of the request that first used them.

A key is the caller's (scope: the account), so a key reused with another request - another
path, method or body - is recognised and refused instead of replaying the first result.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    # The worker forgets keys by age.
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # SHA-256 (hex) of method, path, query and canonical body.
    fingerprint: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
