"""After-sale quality returns (药品质量问题退货): opened on a handed-over order by the patient or
the store, decided by the store's pharmacist; once every box is back (checked by traceability
code) the settlement is reversed and the personal share refunded."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.audit_event import BigIntPK
from app.models.base import Base, CreatedAt, UUIDPrimaryKey

QUALITY_RETURN_STATUSES = ("requested", "accepted", "rejected", "withdrawn", "completed")
# Statuses that hold the order: at most one such return per order.
QUALITY_RETURN_LIVE = ("requested", "accepted", "completed")


def _in(values: tuple[str, ...]) -> str:
    return ",".join(f"'{value}'" for value in values)


class QualityReturn(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "quality_returns"
    __table_args__ = (
        CheckConstraint(f"status IN ({_in(QUALITY_RETURN_STATUSES)})", name="status"),
        CheckConstraint("opened_by_role IN ('patient','pharmacist')", name="opened_by_role"),
        # One return at a time per order, and none after one has completed.
        Index(
            "uq_quality_returns_live_order",
            "order_id",
            unique=True,
            sqlite_where=text(f"status IN ({_in(QUALITY_RETURN_LIVE)})"),
            postgresql_where=text(f"status IN ({_in(QUALITY_RETURN_LIVE)})"),
        ),
        UniqueConstraint("order_id", "idempotency_key", name="uq_quality_returns_key"),
        Index("ix_quality_returns_store_status", "store_id", "status"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_orders.id"), nullable=False
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    store_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("pharmacy_stores.id"), nullable=False
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    opened_by_role: Mapped[str] = mapped_column(String(16), nullable=False)
    opened_by_account_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("accounts.id"), nullable=False
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    # The reversal of the order's settlement, once the boxes are back.
    reversal_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id")
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class QualityReturnTransition(Base):
    """Every step of a return with who took it, when and why (a retried step finds its row)."""

    __tablename__ = "quality_return_transitions"
    __table_args__ = (
        Index("ix_quality_return_transitions_return", "return_id", "id"),
        UniqueConstraint("return_id", "idempotency_key", name="uq_quality_return_transitions_key"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    return_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("quality_returns.id"), nullable=False
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("accounts.id"))
    actor_role: Mapped[str] = mapped_column(String(16), nullable=False)
    actor_name: Mapped[str] = mapped_column(String(64), nullable=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    note: Mapped[str | None] = mapped_column(String(500))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
