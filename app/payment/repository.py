"""SQL for payments and refunds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account, Patient, Payment, PaymentRefund


async def payment_by_out_trade_no(session: AsyncSession, out_trade_no: str) -> Payment | None:
    """The payment with this order number (re-read from the database)."""
    return await session.scalar(
        select(Payment)
        .where(Payment.out_trade_no == out_trade_no)
        .execution_options(populate_existing=True)
    )


async def payments_of(session: AsyncSession, settlement_ids: Sequence[uuid.UUID]) -> list[Payment]:
    """Every payment of these settlements, oldest first."""
    if not settlement_ids:
        return []
    rows = await session.scalars(
        select(Payment)
        .where(Payment.settlement_id.in_(settlement_ids))
        .order_by(Payment.created_at, Payment.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def refunds_of(
    session: AsyncSession, payment_ids: Sequence[uuid.UUID]
) -> list[PaymentRefund]:
    """Every refund of these payments, oldest first."""
    if not payment_ids:
        return []
    rows = await session.scalars(
        select(PaymentRefund)
        .where(PaymentRefund.payment_id.in_(payment_ids))
        .order_by(PaymentRefund.created_at, PaymentRefund.id)
    )
    return list(rows)


async def refunded_totals(
    session: AsyncSession, payment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How much of each payment has been refunded (requested or done), in fen."""
    if not payment_ids:
        return {}
    rows = await session.execute(
        select(PaymentRefund.payment_id, func.sum(PaymentRefund.amount_fen))
        .where(PaymentRefund.payment_id.in_(payment_ids))
        .group_by(PaymentRefund.payment_id)
    )
    return {payment_id: int(total) for payment_id, total in rows}


async def refund_by_out_refund_no(
    session: AsyncSession, out_refund_no: str
) -> PaymentRefund | None:
    """The refund with this refund number."""
    return await session.scalar(
        select(PaymentRefund).where(PaymentRefund.out_refund_no == out_refund_no)
    )


async def collected_net(session: AsyncSession, settlement_id: uuid.UUID) -> int:
    """Succeeded payments of a settlement minus their refunds, in fen."""
    paid = await session.scalar(
        select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
            Payment.settlement_id == settlement_id, Payment.status == "succeeded"
        )
    )
    refunded = await session.scalar(
        select(func.coalesce(func.sum(PaymentRefund.amount_fen), 0))
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .where(Payment.settlement_id == settlement_id)
    )
    return int(paid or 0) - int(refunded or 0)


async def patient_openid(session: AsyncSession, patient_id: uuid.UUID) -> str | None:
    """The WeChat openid of a patient's account."""
    return await session.scalar(
        select(Account.wechat_openid)
        .join(Patient, Patient.account_id == Account.id)
        .where(Patient.id == patient_id)
    )


async def list_patient_payments(
    session: AsyncSession, patient_id: uuid.UUID, before: datetime | None, limit: int
) -> Sequence[Payment]:
    """A patient's succeeded payments (receipts), newest first."""
    statement = select(Payment).where(
        Payment.patient_id == patient_id, Payment.status == "succeeded"
    )
    if before is not None:
        statement = statement.where(Payment.created_at < before)
    statement = statement.order_by(Payment.created_at.desc(), Payment.id).limit(limit)
    return (await session.scalars(statement)).all()
