"""SQL for payments and refunds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz.principal import Principal
from app.kit.sql import one_of
from app.models import (
    Account,
    OutboxMessage,
    Patient,
    Payment,
    PaymentRefund,
    PharmacyStaff,
    Role,
    Settlement,
)

# Refunds that still count against what the patient paid (asked for, under way, or done).
_NOT_FAILED = PaymentRefund.status != "failed"
ONLINE = ("wechat", "alipay")


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
        .where(one_of(session, Payment.settlement_id, settlement_ids))
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
        .where(one_of(session, PaymentRefund.payment_id, payment_ids))
        .order_by(PaymentRefund.created_at, PaymentRefund.id)
    )
    return list(rows)


async def _refund_totals(
    session: AsyncSession, payment_ids: Sequence[uuid.UUID], condition: ColumnElement[bool]
) -> dict[uuid.UUID, int]:
    if not payment_ids:
        return {}
    rows = await session.execute(
        select(PaymentRefund.payment_id, func.sum(PaymentRefund.amount_fen))
        .where(one_of(session, PaymentRefund.payment_id, payment_ids), condition)
        .group_by(PaymentRefund.payment_id)
    )
    return {payment_id: int(total) for payment_id, total in rows}


async def refunded_totals(
    session: AsyncSession, payment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How much of each payment is back with the patient (refunds succeeded), in fen."""
    return await _refund_totals(session, payment_ids, PaymentRefund.status == "succeeded")


async def owed_back_totals(
    session: AsyncSession, payment_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How much of each payment is being or has been given back (refunds not failed), in fen."""
    return await _refund_totals(session, payment_ids, _NOT_FAILED)


async def refund_by_out_refund_no(
    session: AsyncSession, out_refund_no: str
) -> PaymentRefund | None:
    """The refund with this refund number (re-read from the database)."""
    return await session.scalar(
        select(PaymentRefund)
        .where(PaymentRefund.out_refund_no == out_refund_no)
        .execution_options(populate_existing=True)
    )


async def get_refund(session: AsyncSession, refund_id: uuid.UUID) -> PaymentRefund | None:
    """A refund by id (re-read from the database)."""
    return await session.scalar(
        select(PaymentRefund)
        .where(PaymentRefund.id == refund_id)
        .execution_options(populate_existing=True)
    )


async def get_payment(session: AsyncSession, payment_id: uuid.UUID) -> Payment | None:
    """A payment by id."""
    return await session.get(Payment, payment_id)


async def retry_of(session: AsyncSession, refund_id: uuid.UUID) -> PaymentRefund | None:
    """The refund that retried a failed one, if any."""
    return await session.scalar(select(PaymentRefund).where(PaymentRefund.retry_of_id == refund_id))


def refund_scope(principal: Principal) -> ColumnElement[bool]:
    """Refunds staff may handle: admins all, store staff their store's, nobody else."""
    if principal.role == Role.admin:
        return true()
    if principal.role in (Role.courier, Role.pharmacist) and principal.store_id is not None:
        return Settlement.store_id == principal.store_id
    return false()


async def visible_refund(
    session: AsyncSession, principal: Principal, refund_id: uuid.UUID
) -> tuple[PaymentRefund, Payment, Settlement] | None:
    """A refund with its payment and settlement, if the staff member may handle it."""
    row = (
        await session.execute(
            select(PaymentRefund, Payment, Settlement)
            .join(Payment, Payment.id == PaymentRefund.payment_id)
            .join(Settlement, Settlement.id == Payment.settlement_id)
            .where(PaymentRefund.id == refund_id, refund_scope(principal))
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])


async def list_visible_refunds(
    session: AsyncSession,
    principal: Principal,
    statuses: Sequence[str],
    before: datetime | None,
    limit: int,
) -> list[tuple[PaymentRefund, Payment, Settlement]]:
    """Refunds the staff member may handle in these states, newest first."""
    statement = (
        select(PaymentRefund, Payment, Settlement)
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .join(Settlement, Settlement.id == Payment.settlement_id)
        .where(refund_scope(principal), PaymentRefund.status.in_(statuses))
    )
    if before is not None:
        statement = statement.where(PaymentRefund.created_at < before)
    statement = statement.order_by(PaymentRefund.created_at.desc(), PaymentRefund.id).limit(limit)
    return [(r, p, s) for r, p, s in (await session.execute(statement)).all()]


async def online_refunds_to_check(
    session: AsyncSession, asked_before: datetime, checked_before: datetime, limit: int
) -> Sequence[str]:
    """Numbers of online refunds still unconfirmed, asked before and not checked since."""
    statement = (
        select(PaymentRefund.out_refund_no)
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .where(
            PaymentRefund.status.in_(("requested", "processing")),
            Payment.method.in_(ONLINE),
            PaymentRefund.created_at <= asked_before,
            or_(PaymentRefund.checked_at.is_(None), PaymentRefund.checked_at <= checked_before),
        )
        .order_by(PaymentRefund.checked_at.is_not(None), PaymentRefund.checked_at)
        .limit(limit)
    )
    return (await session.scalars(statement)).all()


async def refund_request_outcome(session: AsyncSession, idempotency_key: str) -> str | None:
    """Why a refund request is no longer on its way to the provider (the outbox gave up, or
    delivered it), or None while it is still queued or retried."""
    row = (
        await session.execute(
            select(OutboxMessage.status, OutboxMessage.last_error).where(
                OutboxMessage.idempotency_key == idempotency_key
            )
        )
    ).first()
    if row is None or row[0] == "pending":
        return None
    if row[0] == "dead":
        return f"request refused: {row[1] or 'gave up'}"
    return "the provider has no such refund"


async def overdue_hand_backs(
    session: AsyncSession, asked_before: datetime, limit: int
) -> Sequence[tuple[PaymentRefund, Settlement]]:
    """Cash and card refunds still not handed back, asked before `asked_before`."""
    statement = (
        select(PaymentRefund, Settlement)
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .join(Settlement, Settlement.id == Payment.settlement_id)
        .where(
            PaymentRefund.status == "requested",
            Payment.method.not_in(ONLINE),
            PaymentRefund.created_at <= asked_before,
        )
        .order_by(PaymentRefund.created_at)
        .limit(limit)
    )
    return [(r, s) for r, s in (await session.execute(statement)).all()]


async def refund_staff(session: AsyncSession, store_id: uuid.UUID | None) -> Sequence[uuid.UUID]:
    """Accounts told about a refund that needs a person: the store's pharmacists, the admins."""
    at_store = (
        select(PharmacyStaff.account_id).where(PharmacyStaff.store_id == store_id)
        if store_id is not None
        else None
    )
    condition = Account.role == Role.admin
    if at_store is not None:
        condition = or_(condition, (Account.role == Role.pharmacist) & Account.id.in_(at_store))
    statement = (
        select(Account.id).where(condition, Account.is_active.is_(True)).order_by(Account.id)
    )
    return (await session.scalars(statement)).all()


async def collected_net(session: AsyncSession, settlement_id: uuid.UUID) -> int:
    """Succeeded payments of a settlement minus what is being or was given back, in fen."""
    paid = await session.scalar(
        select(func.coalesce(func.sum(Payment.amount_fen), 0)).where(
            Payment.settlement_id == settlement_id, Payment.status == "succeeded"
        )
    )
    refunded = await session.scalar(
        select(func.coalesce(func.sum(PaymentRefund.amount_fen), 0))
        .join(Payment, Payment.id == PaymentRefund.payment_id)
        .where(Payment.settlement_id == settlement_id, _NOT_FAILED)
    )
    return int(paid or 0) - int(refunded or 0)


async def patient_openid(session: AsyncSession, patient_id: uuid.UUID) -> str | None:
    """The WeChat openid of a patient's account."""
    return await session.scalar(
        select(Account.wechat_openid)
        .join(Patient, Patient.account_id == Account.id)
        .where(Patient.id == patient_id)
    )


async def patient_account_id(session: AsyncSession, patient_id: uuid.UUID) -> uuid.UUID | None:
    """The account notifications to a patient go to."""
    return await session.scalar(select(Patient.account_id).where(Patient.id == patient_id))


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


async def settled_between(
    session: AsyncSession, since: datetime, until: datetime, limit: int
) -> Sequence[tuple[Settlement, uuid.UUID]]:
    """Settlements (not reversals) made in [since, until) with a cash share, oldest first,
    each with its patient's account: those whose personal share may still be outstanding."""
    rows = await session.execute(
        select(Settlement, Patient.account_id)
        .join(Patient, Patient.id == Settlement.patient_id)
        .where(
            Settlement.kind == "settlement",
            Settlement.cash_fen > 0,
            Settlement.settled_at >= since,
            Settlement.settled_at < until,
        )
        .order_by(Settlement.settled_at, Settlement.id)
        .limit(limit)
    )
    return [(settlement, account_id) for settlement, account_id in rows.all()]
