"""Refunds: money owed back when a settlement is reversed or a share was paid twice.

A refund is written `requested` in the same transaction as its cause and stays pending until the
money is back with the patient (`app.payment.states` holds its transitions):
- online (WeChat Pay, Alipay): the request goes to the provider through the outbox (sent after
  commit, retried, idempotent by the refund number); the provider's verified notification, or
  the follow-up's query of a refund still unconfirmed after `payment_refund_query_after_seconds`,
  says whether it succeeded, is still processing or failed;
- cash and card: a courier or pharmacist of the store records handing the money back; one not
  handed back within `payment_refund_hand_back_hours` is escalated to the store and the admins.
The ledger books a refund when it succeeds, never before. A failure is shown to the patient (the
bill) and the staff (the refund list), both are notified, and a pharmacist of the store or an
admin retries it as a new refund.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.config import Settings
from app.db import unit_of_work
from app.errors import Conflict, NotFound
from app.insurance import repository as insurance_repository
from app.kit.clock import utcnow
from app.ledger import posting
from app.models import Payment, PaymentRefund, Settlement
from app.outbox import service as outbox_service
from app.outbox.push import PushNotification, queue_push
from app.outbox.types import ClaimedMessage, Handler, PermanentDeliveryError, RetryableDeliveryError
from app.payment import repository as payment_repository
from app.payment.providers import (
    NotificationRejected,
    PaymentGateway,
    ProviderError,
    gateway_from_settings,
)
from app.payment.providers.outcomes import ProviderRefund, ProviderRefundStatus
from app.payment.states import Outcome, RefundStatus, can_move, check_move

log = structlog.get_logger(__name__)

PAYMENT_REFUND = "payment.refund"
ONLINE_METHODS = frozenset({"wechat", "alipay"})
RESOURCE = "payment_refund"
# Refunds looked at per follow-up pass.
FOLLOW_UP_BATCH = 100

_NEWS_TARGET = {
    ProviderRefundStatus.succeeded: RefundStatus.succeeded,
    ProviderRefundStatus.processing: RefundStatus.processing,
    ProviderRefundStatus.failed: RefundStatus.failed,
}


def refund_request_key(out_refund_no: str) -> str:
    """The outbox idempotency key of a refund's request to its provider."""
    return f"refund:{out_refund_no}"


async def refund_payment(
    session: AsyncSession,
    payment: Payment,
    settlement: Settlement,
    amount_fen: int,
    reason: str,
    reversal_id: uuid.UUID | None,
    *,
    retry_of_id: uuid.UUID | None = None,
) -> PaymentRefund:
    """Owe `amount_fen` of a payment back: written now, asked of the provider after commit."""
    refund = PaymentRefund(
        payment_id=payment.id,
        reversal_id=reversal_id,
        amount_fen=amount_fen,
        out_refund_no=f"R{uuid.uuid4().hex}",
        status=RefundStatus.requested.value,
        reason=reason[:200],
        retry_of_id=retry_of_id,
    )
    session.add(refund)
    await session.flush()
    if payment.method in ONLINE_METHODS:
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
            idempotency_key=refund_request_key(refund.out_refund_no),
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
    owed_back = await payment_repository.owed_back_totals(session, [p.id for p in payments])
    for payment in payments:
        remaining = payment.amount_fen - owed_back.get(payment.id, 0)
        if remaining > 0:
            await refund_payment(
                session, payment, original, remaining, reversal.reason or "reversal", reversal.id
            )


@dataclass
class _Locked:
    refund: PaymentRefund
    payment: Payment
    settlement: Settlement


async def _lock(session: AsyncSession, refund: PaymentRefund) -> _Locked:
    """Serialise with every money change of the patient-year, then re-read the refund."""
    payment = await payment_repository.get_payment(session, refund.payment_id)
    assert payment is not None
    settlement = await insurance_repository.get_settlement(session, payment.settlement_id)
    assert settlement is not None
    await insurance_repository.lock_quota(session, settlement.patient_id, settlement.year)
    current = await payment_repository.get_refund(session, refund.id)
    assert current is not None
    return _Locked(current, payment, settlement)


async def _move(
    session: AsyncSession,
    locked: _Locked,
    target: RefundStatus,
    *,
    detail: str | None = None,
    provider_refund_id: str | None = None,
) -> None:
    refund = locked.refund
    check_move(refund.status, target)
    now = utcnow()
    refund.status = target.value
    if provider_refund_id:
        refund.provider_refund_id = provider_refund_id[:64]
    if target == RefundStatus.succeeded:
        refund.succeeded_at = now
        refund.failed_at = None
        if refund.booked_at is None:
            refund.booked_at = now
            await posting.post_payment(
                session,
                "refund",
                locked.payment.method,
                -refund.amount_fen,
                posting.Refs(
                    locked.settlement.institution_id,
                    locked.settlement.patient_id,
                    settlement_id=locked.settlement.id,
                    payment_id=locked.payment.id,
                ),
            )
    elif target == RefundStatus.failed:
        refund.failed_at = now
        refund.failure_reason = (detail or "failed")[:200]
        await _tell_people(session, locked, "refund_failed")
    await session.flush()


async def _tell_people(session: AsyncSession, locked: _Locked, template: str) -> None:
    """Notify the store's pharmacists and the admins (and, of a failure, the patient)."""
    refund, settlement = locked.refund, locked.settlement
    data = {
        "refund_id": str(refund.id),
        "settlement_id": str(settlement.id),
        "order_id": str(settlement.order_id),
        "method": locked.payment.method,
        "amount_fen": refund.amount_fen,
        "reason": refund.failure_reason or refund.reason,
    }
    for account_id in await payment_repository.refund_staff(session, settlement.store_id):
        await queue_push(
            session,
            PushNotification(
                recipient=str(account_id),
                template=template,
                data=data,
                page=f"/refunds/{refund.id}",
            ),
            f"{template}:{refund.id}:{account_id}",
        )
    patient_account = await payment_repository.patient_account_id(session, settlement.patient_id)
    if template == "refund_failed" and patient_account is not None:
        await queue_push(
            session,
            PushNotification(
                recipient=str(patient_account),
                template=template,
                data=data,
                page=f"pages/payment/bill?settlement={settlement.id}",
            ),
            f"{template}:{refund.id}:patient",
        )


async def apply_provider_news(
    session: AsyncSession,
    out_refund_no: str,
    news: ProviderRefund,
    amount_fen: int | None = None,
) -> Outcome:
    """A provider's word on a refund (notification or query), applied once; stale news is
    ignored. Raises NotificationRejected for a refund we never asked for or another amount."""
    refund = await payment_repository.refund_by_out_refund_no(session, out_refund_no)
    if refund is None:
        raise NotificationRejected(f"unknown refund {out_refund_no}")
    if amount_fen is not None and refund.amount_fen != amount_fen:
        raise NotificationRejected("refund amount differs")
    target = _NEWS_TARGET.get(news.status)
    if target is None:
        return Outcome.ignored
    locked = await _lock(session, refund)
    if locked.refund.status == target.value:
        return Outcome.duplicate
    if not can_move(locked.refund.status, target):
        log.warning(
            "stale refund news ignored",
            out_refund_no=out_refund_no,
            status=locked.refund.status,
            news=news.status.value,
        )
        return Outcome.ignored
    if target == RefundStatus.succeeded and locked.refund.status == RefundStatus.failed:
        log.error("refund reported failed has succeeded after all", out_refund_no=out_refund_no)
    await _move(
        session,
        locked,
        target,
        detail=f"provider: {news.detail or news.status.value}",
        provider_refund_id=news.provider_refund_id,
    )
    return Outcome.applied


# --- staff ---


async def _visible(session: AsyncSession, principal: Principal, refund_id: uuid.UUID) -> _Locked:
    found = await payment_repository.visible_refund(session, principal, refund_id)
    if found is None:
        raise NotFound("refund_not_found")
    return await _lock(session, found[0])


async def hand_back(
    session: AsyncSession, principal: Principal, refund_id: uuid.UUID
) -> PaymentRefund:
    """Store staff gave cash or card money back to the patient (a retry changes nothing)."""
    locked = await _visible(session, principal, refund_id)
    if locked.payment.method in ONLINE_METHODS:
        raise Conflict("refund_not_by_hand")
    if locked.refund.status == RefundStatus.succeeded:
        return locked.refund
    await _move(session, locked, RefundStatus.succeeded)
    locked.refund.handed_back_by_account_id = principal.account_id
    await session.flush()
    await audit_service.record(
        session,
        principal,
        AuditAction.update,
        RESOURCE,
        locked.refund.id,
        locked.settlement.patient_id,
    )
    return locked.refund


async def retry(session: AsyncSession, principal: Principal, refund_id: uuid.UUID) -> PaymentRefund:
    """Try a failed refund again as a new refund of the same amount (once per failed one)."""
    locked = await _visible(session, principal, refund_id)
    existing = await payment_repository.retry_of(session, locked.refund.id)
    if existing is not None:
        return existing
    if locked.refund.status != RefundStatus.failed:
        raise Conflict("refund_not_failed")
    refund = await refund_payment(
        session,
        locked.payment,
        locked.settlement,
        locked.refund.amount_fen,
        locked.refund.reason,
        locked.refund.reversal_id,
        retry_of_id=locked.refund.id,
    )
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, refund.id, locked.settlement.patient_id
    )
    return refund


# --- the follow-up (a periodic job) ---


@dataclass(frozen=True)
class FollowUpReport:
    checked: int
    changed: int
    escalated: int


async def _ask(gateway: PaymentGateway, payment: Payment, out_refund_no: str) -> ProviderRefund:
    now = utcnow()
    if payment.method == "wechat" and gateway.wechat is not None:
        return await gateway.wechat.query_refund(out_refund_no, now)
    if payment.method == "alipay" and gateway.alipay is not None:
        return await gateway.alipay.query_refund(payment.out_trade_no, out_refund_no, now)
    raise ProviderError(f"no provider configured for {payment.method}", retryable=True)


async def _check_one(
    sessionmaker: async_sessionmaker[AsyncSession], gateway: PaymentGateway, out_refund_no: str
) -> bool:
    """Ask the provider where one refund stands and apply the answer; whether it changed."""
    async with unit_of_work(sessionmaker) as session:
        refund = await payment_repository.refund_by_out_refund_no(session, out_refund_no)
        if refund is None or refund.status not in ("requested", "processing"):
            return False
        payment = await payment_repository.get_payment(session, refund.payment_id)
        assert payment is not None
        refund.checked_at = utcnow()
    try:
        news = await _ask(gateway, payment, out_refund_no)
    except ProviderError as exc:
        log.warning("refund query failed", out_refund_no=out_refund_no, error=str(exc))
        return False
    async with unit_of_work(sessionmaker) as session:
        if news.status != ProviderRefundStatus.not_found:
            return await apply_provider_news(session, out_refund_no, news) == Outcome.applied
        # Unknown to the provider: failed once our request is no longer on its way (Alipay: "no
        # data means not refunded; ask again"), i.e. the outbox gave up on it or delivered it.
        why = await payment_repository.refund_request_outcome(
            session, refund_request_key(out_refund_no)
        )
        if why is None:
            return False
        refund = await payment_repository.refund_by_out_refund_no(session, out_refund_no)
        assert refund is not None
        locked = await _lock(session, refund)
        if locked.refund.status not in ("requested", "processing"):
            return False
        await _move(session, locked, RefundStatus.failed, detail=why)
        return True


async def follow_up(
    sessionmaker: async_sessionmaker[AsyncSession],
    gateway: PaymentGateway,
    settings: Settings,
    now: datetime | None = None,
) -> FollowUpReport:
    """Query unconfirmed online refunds; escalate cash and card refunds not handed back."""
    now = now or utcnow()
    wait = timedelta(seconds=settings.payment_refund_query_after_seconds)
    async with unit_of_work(sessionmaker) as session:
        numbers = await payment_repository.online_refunds_to_check(
            session, now - wait, now - wait, FOLLOW_UP_BATCH
        )
    changed = 0
    for out_refund_no in numbers:
        changed += await _check_one(sessionmaker, gateway, out_refund_no)
    escalated = 0
    async with unit_of_work(sessionmaker) as session:
        overdue = await payment_repository.overdue_hand_backs(
            session,
            now - timedelta(hours=settings.payment_refund_hand_back_hours),
            FOLLOW_UP_BATCH,
        )
        for refund, settlement in overdue:
            payment = await payment_repository.get_payment(session, refund.payment_id)
            assert payment is not None
            await _tell_people(session, _Locked(refund, payment, settlement), "refund_overdue")
            escalated += 1
    return FollowUpReport(len(numbers), changed, escalated)


# --- the outbox handler ---


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
