"""Rules for paying the personal share: what is due, hand-over collection, online payments,
provider notifications applied exactly once, the patient's bill and receipts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import BadGateway, Conflict, NotFound, ServiceUnavailable
from app.insurance import repository as insurance_repository
from app.kit.clock import utcnow
from app.ledger import posting
from app.models import Payment, PaymentRefund, Settlement, SettlementItem
from app.payment import refunds
from app.payment import repository as payment_repository
from app.payment.providers import NotificationRejected, PaymentGateway, ProviderError
from app.payment.schemas import HandOverPayment
from app.payment.states import Outcome

RESOURCE = "payment"


async def visible_settlement(
    session: AsyncSession, principal: Principal, settlement_id: uuid.UUID
) -> Settlement:
    """A settlement the caller may see (404 otherwise)."""
    row = await insurance_repository.get_visible_settlement(
        session, principal, settlement_id, utcnow()
    )
    if row is None:
        raise NotFound("settlement_not_found")
    return row


async def due_fen(session: AsyncSession, settlement: Settlement) -> int:
    """The cash share still expected from the patient (nothing once reversed)."""
    if settlement.kind != "settlement":
        return 0
    if await insurance_repository.reversal_of(session, settlement.id) is not None:
        return 0
    return settlement.cash_fen


async def outstanding_fen(session: AsyncSession, settlement: Settlement) -> int:
    """Due minus collected (negative when the patient paid too much)."""
    return await due_fen(session, settlement) - await payment_repository.collected_net(
        session, settlement.id
    )


async def _payable(session: AsyncSession, settlement: Settlement) -> int:
    if await due_fen(session, settlement) == 0:
        raise Conflict("settlement_not_payable")
    return await outstanding_fen(session, settlement)


async def _book(session: AsyncSession, payment: Payment, settlement: Settlement) -> None:
    await posting.post_payment(
        session,
        "payment",
        payment.method,
        payment.amount_fen,
        posting.Refs(
            settlement.institution_id,
            settlement.patient_id,
            settlement_id=settlement.id,
            payment_id=payment.id,
        ),
    )


async def record_hand_over(
    session: AsyncSession, principal: Principal, settlement: Settlement, body: HandOverPayment
) -> Payment:
    """The courier took cash or card at the door; a retry with the same collection id is a no-op."""
    await insurance_repository.lock_quota(session, settlement.patient_id, settlement.year)
    out_trade_no = f"H{body.collection_id.hex}"
    existing = await payment_repository.payment_by_out_trade_no(session, out_trade_no)
    if existing is not None:
        if (existing.settlement_id, existing.method, existing.amount_fen) != (
            settlement.id,
            body.method,
            body.amount_fen,
        ):
            raise Conflict("payment_collection_reused")
        return existing
    outstanding = await _payable(session, settlement)
    if body.amount_fen > outstanding:
        raise Conflict("payment_exceeds_due", due_fen=max(outstanding, 0))
    now = utcnow()
    payment = Payment(
        settlement_id=settlement.id,
        patient_id=settlement.patient_id,
        method=body.method,
        amount_fen=body.amount_fen,
        status="succeeded",
        out_trade_no=out_trade_no,
        collected_by_account_id=principal.account_id,
        paid_at=now,
    )
    session.add(payment)
    await session.flush()
    await _book(session, payment, settlement)
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, payment.id, settlement.patient_id
    )
    return payment


@dataclass(frozen=True)
class OnlineStart:
    payment: Payment
    client_params: dict[str, str]


async def start_online(
    session: AsyncSession,
    principal: Principal,
    settlement: Settlement,
    method: str,
    gateway: PaymentGateway,
) -> OnlineStart:
    """Open a provider order for what is outstanding (the notification settles it)."""
    outstanding = await _payable(session, settlement)
    if outstanding <= 0:
        raise Conflict("nothing_to_pay")
    payment = Payment(
        settlement_id=settlement.id,
        patient_id=settlement.patient_id,
        method=method,
        amount_fen=outstanding,
        status="pending",
        out_trade_no=f"P{uuid.uuid4().hex}",
    )
    session.add(payment)
    await session.flush()
    description = f"慢病药品个人负担 {settlement.order_id.hex[:12]}"
    now = utcnow()
    try:
        if method == "wechat":
            if gateway.wechat is None:
                raise ServiceUnavailable("payment_provider_unavailable")
            openid = await payment_repository.patient_openid(session, settlement.patient_id)
            if openid is None:
                raise Conflict("payer_unknown")
            params = await gateway.wechat.create_jsapi_order(
                payment.out_trade_no, outstanding, description, openid, now
            )
        else:
            if gateway.alipay is None:
                raise ServiceUnavailable("payment_provider_unavailable")
            params = await gateway.alipay.precreate(
                payment.out_trade_no, outstanding, description, now
            )
    except ProviderError as exc:
        raise BadGateway("payment_provider_failed") from exc
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, payment.id, settlement.patient_id
    )
    return OnlineStart(payment, params)


async def _locked_payment(
    session: AsyncSession, method: str, out_trade_no: str
) -> tuple[Payment, Settlement]:
    payment = await payment_repository.payment_by_out_trade_no(session, out_trade_no)
    if payment is None or payment.method != method:
        raise NotificationRejected(f"unknown order {out_trade_no}")
    settlement = await insurance_repository.get_settlement(session, payment.settlement_id)
    assert settlement is not None
    await insurance_repository.lock_quota(session, settlement.patient_id, settlement.year)
    # Re-read under the lock: a concurrent delivery of the same notification may have won.
    payment = await payment_repository.payment_by_out_trade_no(session, out_trade_no)
    assert payment is not None
    return payment, settlement


async def apply_paid(
    session: AsyncSession,
    method: str,
    out_trade_no: str,
    transaction_id: str,
    amount_fen: int,
    paid_at: datetime,
) -> Outcome:
    """A provider says an order was paid: book it once; refund what was paid beyond the due."""
    payment, settlement = await _locked_payment(session, method, out_trade_no)
    if amount_fen != payment.amount_fen:
        raise NotificationRejected(
            f"amount {amount_fen} differs from the order's {payment.amount_fen}"
        )
    if payment.status == "succeeded":
        if payment.provider_transaction_id != transaction_id:
            raise NotificationRejected("order already paid by another transaction")
        return Outcome.duplicate
    # A success after a close is still money received (notifications arrive out of order).
    payment.status = "succeeded"
    payment.provider_transaction_id = transaction_id
    payment.paid_at = paid_at
    await session.flush()
    await _book(session, payment, settlement)
    excess = -(await outstanding_fen(session, settlement))
    if excess > 0:
        await refunds.refund_payment(
            session, payment, settlement, min(excess, payment.amount_fen), "overpaid", None
        )
    return Outcome.applied


async def apply_closed(session: AsyncSession, method: str, out_trade_no: str) -> Outcome:
    """A provider closed an unpaid order; a paid one stays paid."""
    payment, _ = await _locked_payment(session, method, out_trade_no)
    if payment.status != "pending":
        return Outcome.ignored
    payment.status = "closed"
    await session.flush()
    return Outcome.applied


@dataclass(frozen=True)
class Bill:
    settlement: Settlement
    reversal: Settlement | None
    items: Sequence[SettlementItem]
    payments: list[Payment]
    refunds: list[PaymentRefund]
    # Per payment: what is back with the patient (refunds succeeded).
    refunded: dict[uuid.UUID, int]
    due_fen: int
    collected_fen: int


async def bill(session: AsyncSession, principal: Principal, settlement: Settlement) -> Bill:
    """The itemised bill of a settlement with its payments and refunds (audited)."""
    payments = await payment_repository.payments_of(session, [settlement.id])
    result = Bill(
        settlement=settlement,
        reversal=await insurance_repository.reversal_of(session, settlement.id),
        items=await insurance_repository.settlement_items(session, settlement.id),
        payments=payments,
        refunds=await payment_repository.refunds_of(session, [p.id for p in payments]),
        refunded=await payment_repository.refunded_totals(session, [p.id for p in payments]),
        due_fen=await due_fen(session, settlement),
        collected_fen=await payment_repository.collected_net(session, settlement.id),
    )
    await audit_service.record(
        session, principal, AuditAction.read, "settlement", settlement.id, settlement.patient_id
    )
    return result


async def receipts(
    session: AsyncSession, principal: Principal, before: datetime | None, limit: int
) -> tuple[Sequence[Payment], dict[uuid.UUID, int]]:
    """The patient's paid receipts, newest first, with what was refunded of each."""
    assert principal.patient_id is not None
    payments = await payment_repository.list_patient_payments(
        session, principal.patient_id, before, limit
    )
    return payments, await payment_repository.refunded_totals(session, [p.id for p in payments])
