"""Bodies of the payment endpoints: amounts in fen, times in Asia/Shanghai."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.insurance.schemas import SettlementOut
from app.kit.bounded import PositiveInt64
from app.kit.clock import to_shanghai
from app.models import Payment, PaymentRefund


class HandOverPayment(BaseModel):
    """Cash or card taken by the courier at the door."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["cash", "card"]
    amount_fen: PositiveInt64
    collection_id: uuid.UUID = Field(
        description="Made by the courier app per collection; a retry sends the same id"
    )


class OnlinePaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["wechat", "alipay"]


class PaymentOut(BaseModel):
    """A payment; a succeeded one is the patient's receipt."""

    id: uuid.UUID
    settlement_id: uuid.UUID
    method: str
    amount_fen: int
    refunded_fen: int
    status: str
    receipt_no: str
    provider_transaction_id: str | None
    paid_at: datetime | None

    @classmethod
    def from_row(cls, row: Payment, refunded_fen: int = 0) -> PaymentOut:
        """Build from a payment row."""
        return cls(
            id=row.id,
            settlement_id=row.settlement_id,
            method=row.method,
            amount_fen=row.amount_fen,
            refunded_fen=refunded_fen,
            status=row.status,
            receipt_no=row.out_trade_no,
            provider_transaction_id=row.provider_transaction_id,
            paid_at=to_shanghai(row.paid_at) if row.paid_at else None,
        )


class RefundOut(BaseModel):
    id: uuid.UUID
    payment_id: uuid.UUID
    amount_fen: int
    status: str
    reason: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: PaymentRefund) -> RefundOut:
        """Build from a refund row."""
        return cls(
            id=row.id,
            payment_id=row.payment_id,
            amount_fen=row.amount_fen,
            status=row.status,
            reason=row.reason,
            created_at=to_shanghai(row.created_at),
        )


class OnlinePaymentOut(BaseModel):
    payment: PaymentOut
    client_params: dict[str, str] = Field(
        description="WeChat: wx.requestPayment parameters; Alipay: the QR code to scan"
    )


class BillOut(BaseModel):
    """The itemised bill: drug lines, the split, and what has been paid and refunded."""

    settlement: SettlementOut
    due_fen: int
    collected_fen: int
    outstanding_fen: int
    payments: list[PaymentOut]
    refunds: list[RefundOut]


class ReceiptPage(BaseModel):
    items: list[PaymentOut]
    next_before: datetime | None
