"""Payments of the personal share (cash/card at hand-over, WeChat Pay, Alipay) and refunds."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from app.kit.types import UTCDateTime
from app.models.base import Base, CreatedAt, UUIDPrimaryKey


class Payment(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("method IN ('cash','card','wechat','alipay')", name="method"),
        CheckConstraint("status IN ('pending','succeeded','closed')", name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        UniqueConstraint(
            "method", "provider_transaction_id", name="uq_payments_provider_transaction"
        ),
    )

    settlement_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id"), nullable=False, index=True
    )
    patient_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("patients.id"), nullable=False, index=True
    )
    method: Mapped[str] = mapped_column(String(16), nullable=False)
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # Our order number at the provider (online), or the courier app's collection id (offline):
    # a retried write with the same number is the same payment.
    out_trade_no: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    provider_transaction_id: Mapped[str | None] = mapped_column(String(64))
    collected_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentRefund(UUIDPrimaryKey, CreatedAt, Base):
    __tablename__ = "payment_refunds"
    __table_args__ = (
        CheckConstraint("status IN ('requested','succeeded')", name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("payments.id"), nullable=False, index=True
    )
    # The reversal that caused it; none for an overpayment refunded on arrival.
    reversal_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("insurance_settlements.id")
    )
    amount_fen: Mapped[int] = mapped_column(BigInteger, nullable=False)
    out_refund_no: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
