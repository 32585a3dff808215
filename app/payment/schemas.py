"""Bodies of the payment endpoints: amounts in fen, times in Asia/Shanghai."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.insurance.schemas import SettlementOut
from app.kit.bounded import PositiveInt64
from app.kit.clock import to_shanghai
from app.kit.pagination import Page
from app.models import Payment, PaymentRefund, Settlement


class HandOverPayment(BaseModel):
    """Cash or card taken by the courier at the door."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "method": "cash",
                    "amount_fen": 3860,
                    "collection_id": "9c4e7a21-5b3d-4f80-a6e2-1d8b7f3c5a94",
                }
            ]
        },
    )

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
    refunded_fen: int = Field(description="What is back with the patient (refunds succeeded)")
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


RefundStatusName = Literal["requested", "processing", "succeeded", "failed"]


def _shown(moment: datetime | None) -> datetime | None:
    return to_shanghai(moment) if moment else None


class RefundOut(BaseModel):
    """Money owed back on a payment: requested -> processing -> succeeded | failed."""

    id: uuid.UUID
    payment_id: uuid.UUID
    amount_fen: int
    status: RefundStatusName = Field(
        description="requested: owed, asked of the provider or awaiting the courier's hand-back; "
        "processing: the provider is on it; succeeded: the money is back; failed: it did not "
        "happen (see failure_reason) and staff retry it"
    )
    reason: str
    created_at: datetime
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    failure_reason: str | None = None
    retry_of_id: uuid.UUID | None = Field(
        default=None, description="The failed refund this one tries again"
    )
    handed_back_by_account_id: uuid.UUID | None = None

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
            succeeded_at=_shown(row.succeeded_at),
            failed_at=_shown(row.failed_at),
            failure_reason=row.failure_reason,
            retry_of_id=row.retry_of_id,
            handed_back_by_account_id=row.handed_back_by_account_id,
        )


class StaffRefundOut(RefundOut):
    """A refund as store staff and admins handle it: with its payment and order."""

    method: str
    settlement_id: uuid.UUID
    order_id: uuid.UUID
    patient_id: uuid.UUID

    @classmethod
    def of(cls, row: PaymentRefund, payment: Payment, settlement: Settlement) -> StaffRefundOut:
        """Build from a refund with its payment and settlement."""
        return cls(
            **RefundOut.from_row(row).model_dump(),
            method=payment.method,
            settlement_id=settlement.id,
            order_id=settlement.order_id,
            patient_id=settlement.patient_id,
        )


class StaffRefundPage(Page[StaffRefundOut]):
    """A page of refunds, newest first."""


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


class ReceiptPage(Page[PaymentOut]):
    """A page of receipts, newest first."""
