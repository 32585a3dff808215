"""Refunds: money given back when a settlement is reversed or a share was paid twice.

The refund is booked in the ledger in the same transaction as its cause; for online payments
the request to the provider goes through the outbox (sent after commit, retried, idempotent by
the refund number), and the provider's notification marks it succeeded.
"""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.insurance import ledger
from app.kit.clock import utcnow
from app.models import Payment, PaymentRefund, Settlement
from app.outbox import service as outbox_service
from app.outbox.handlers import register_handler
from app.outbox.types import ClaimedMessage, Handler, PermanentDeliveryError, RetryableDeliveryError
from app.payment import repository as payment_repository
from app.payment.providers import PaymentGateway, ProviderError, gateway_from_settings

PAYMENT_REFUND = "payment.refund"
ONLINE_METHODS = frozenset({"wechat", "alipay"})


async def refund_payment(
    session: AsyncSession,
    payment: Payment,
    settlement: Settlement,
    amount_fen: int,
    reason: str,
    reversal_id: uuid.UUID | None,
) -> PaymentRefund:
    """Give `amount_fen` of a payment back: booked now, sent to the provider after commit."""
    online = payment.method in ONLINE_METHODS
    now = utcnow()
    refund = PaymentRefund(
        payment_id=payment.id,
        reversal_id=reversal_id,
        amount_fen=amount_fen,
        out_refund_no=f"R{uuid.uuid4().hex}",
        # Cash and card are handed back by the courier when the parcel comes back.
        status="requested" if online else "succeeded",
        reason=reason[:200],
        succeeded_at=None if online else now,
    )
    session.add(refund)
    await session.flush()
    await ledger.post_payment(
        session,
        "refund",
        payment.method,
        -amount_fen,
        ledger.Refs(
            settlement.institution_id,
            settlement.patient_id,
            settlement_id=settlement.id,
            payment_id=payment.id,
        ),
    )
    if online:
        await outbox_service.enqueue(
            session,
            PAYMENT_REFUND,
            {
                "method": payment.method,
                "out_trade_no": payment.out_trade_no,
                "out_refund_no": refund.out_refund_no,
                "refund_fen": amount_fen,
                "total_fen": payment.amount_fen,
                "reason": reason[:80],
            },
            idempotency_key=f"refund:{refund.out_refund_no}",
        )
    return refund


async def refund_reversed(
    session: AsyncSession, original: Settlement, reversal: Settlement
) -> None:
    """Refund whatever the patient paid towards a settlement that has been reversed."""
    payments = [
        p
        for p in await payment_repository.payments_of(session, [original.id])
        if p.status == "succeeded"
    ]
    refunded = await payment_repository.refunded_totals(session, [p.id for p in payments])
    for payment in payments:
        remaining = payment.amount_fen - refunded.get(payment.id, 0)
        if remaining > 0:
            await refund_payment(
                session, payment, original, remaining, reversal.reason or "reversal", reversal.id
            )


def refund_handler(gateway: PaymentGateway) -> Handler:
    """Deliver `payment.refund` messages to the provider the payment was made with."""

    async def deliver(message: ClaimedMessage) -> None:
        payload = message.payload
        now = utcnow()
        try:
            if payload["method"] == "wechat" and gateway.wechat is not None:
                await gateway.wechat.refund(
                    payload["out_trade_no"],
                    payload["out_refund_no"],
                    payload["refund_fen"],
                    payload["total_fen"],
                    payload["reason"],
                    now,
                )
            elif payload["method"] == "alipay" and gateway.alipay is not None:
                await gateway.alipay.refund(
                    payload["out_trade_no"],
                    payload["out_refund_no"],
                    payload["refund_fen"],
                    payload["reason"],
                    now,
                )
            else:
                raise PermanentDeliveryError(f"no provider configured for {payload['method']}")
        except KeyError as exc:
            raise PermanentDeliveryError(f"refund payload lacks {exc}") from exc
        except ProviderError as exc:
            if exc.retryable:
                raise RetryableDeliveryError(str(exc)) from exc
            raise PermanentDeliveryError(str(exc)) from exc

    return deliver


def payment_refund_handler(settings: Settings, http: httpx.AsyncClient) -> Handler:
    """The outbox handler of `payment.refund`, for the configured providers."""
    return refund_handler(gateway_from_settings(settings, http))


register_handler(PAYMENT_REFUND, payment_refund_handler)
