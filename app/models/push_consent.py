"""What the mini-program reported from `wx.requestSubscribeMessage`, one row per report.

Keyed by the caller's Idempotency-Key: a retried report finds its first row and counts no
grant twice. The rows are also the record of what each person agreed to, and when.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, CreatedAt


class PushConsent(CreatedAt, Base):
    __tablename__ = "push_consents"

    account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Template id -> "accept" | "reject" | "ban" | "filter".
    results: Mapped[dict[str, Any]] = mapped_column(
        JSON().with_variant(JSONB(), "postgresql"), nullable=False
    )
