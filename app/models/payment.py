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
    """Money owed back to the patient on one payment, and where giving it back stands.

    requested -> processing -> succeeded | failed (transitions in `app.payment.refund_states`).
    It is booked in the ledger when it succeeds (`booked_at`), never before: until then the
    money is still the institution's and the patient is owed it. A failed refund is retried as
    a new refund (`retry_of_id`), at most once per failed one.
    """

    __tablename__ = "payment_refunds"
    __table_args__ = (
        CheckConstraint("status IN ('requested','processing','succeeded','failed')", name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("(status = 'failed') = (failed_at IS NOT NULL)", name="failed_when_failed"),
        UniqueConstraint("retry_of_id", name="uq_payment_refunds_retry_of_id"),
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
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it failed, for staff: the provider's word (ABNORMAL, CLOSED) or ours.
    failure_reason: Mapped[str | None] = mapped_column(String(200))
    provider_refund_id: Mapped[str | None] = mapped_column(String(64))
    # When the refund's ledger entry was posted (on success).
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Last time the follow-up asked the provider where it stands.
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Cash and card: the store staff member who recorded handing the money back.
    handed_back_by_account_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("accounts.id")
    )
    retry_of_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("payment_refunds.id"))
