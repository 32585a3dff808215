"""Provider notifications: verify, then apply through the payment service exactly once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.payment import refunds
from app.payment import repository as payment_repository
from app.payment import service as payment_service
from app.payment.providers import NotificationRejected, PaymentGateway, ProviderError
from app.payment.providers import alipay as alipay_provider
from app.payment.providers import wechat as wechat_provider
from app.payment.providers.outcomes import ProviderRefund, ProviderRefundStatus
from app.payment.states import Outcome

log = structlog.get_logger(__name__)

ALIPAY_PAID = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})


def _parse_time(text: str | None) -> datetime:
    if not text:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return utcnow()
    return moment if moment.tzinfo else utcnow()


async def handle_wechat(
    session: AsyncSession, gateway: PaymentGateway, headers: Mapping[str, str], body: bytes
) -> Outcome:
    """A WeChat Pay v3 notification (TRANSACTION.* or REFUND.*); raises NotificationRejected."""
    if gateway.wechat is None:
        raise NotificationRejected("WeChat Pay is not configured")
    config = gateway.wechat.config
    event = wechat_provider.parse_notification(config, headers, body, utcnow())
    resource = event.resource
    if resource.get("mchid") != config.mchid:
        raise NotificationRejected("notification for another merchant")
    try:
        out_trade_no = str(resource["out_trade_no"])
        amount = resource["amount"]
        if event.event_type.startswith("REFUND."):
            # SUCCESS, or ABNORMAL / CLOSED: the refund failed and staff must act.
            try:
                news = wechat_provider.refund_outcome(resource, "refund_status")
            except ProviderError as exc:
                raise NotificationRejected(str(exc)) from exc
            return await refunds.apply_provider_news(
                session, str(resource["out_refund_no"]), news, int(amount["refund"])
            )
        if resource.get("appid") != config.appid:
            raise NotificationRejected("notification for another app")
        if amount.get("currency", "CNY") != "CNY":
            raise NotificationRejected("currency is not CNY")
        state = resource.get("trade_state")
        if state == "SUCCESS":
            return await payment_service.apply_paid(
                session,
                "wechat",
                out_trade_no,
                str(resource["transaction_id"]),
                int(amount["total"]),
                _parse_time(resource.get("success_time")),
            )
        if state in ("CLOSED", "REVOKED", "PAYERROR"):
            return await payment_service.apply_closed(session, "wechat", out_trade_no)
    except (KeyError, TypeError, ValueError) as exc:
        raise NotificationRejected(f"malformed resource: {exc}") from exc
    return Outcome.ignored


async def handle_alipay(
    session: AsyncSession, gateway: PaymentGateway, params: Mapping[str, str]
) -> Outcome:
    """An Alipay asynchronous notification; raises NotificationRejected."""
    if gateway.alipay is None:
        raise NotificationRejected("Alipay is not configured")
    note = alipay_provider.parse_notification(gateway.alipay.config, params)
    if note.out_biz_no and note.refund_fen > 0:
        # A refund is notified to the payment's notify_url: out_biz_no is our out_request_no,
        # refund_fee the trade's total refunded so far (so at least this refund's amount).
        refund = await payment_repository.refund_by_out_refund_no(session, note.out_biz_no)
        if refund is None or not refund.amount_fen <= note.refund_fen <= note.total_fen:
            raise NotificationRejected("refund unknown or amounts inconsistent")
        return await refunds.apply_provider_news(
            session, note.out_biz_no, ProviderRefund(ProviderRefundStatus.succeeded, note.trade_no)
        )
    if note.trade_status in ALIPAY_PAID:
        return await payment_service.apply_paid(
            session,
            "alipay",
            note.out_trade_no,
            note.trade_no,
            note.total_fen,
            utcnow(),
        )
    if note.trade_status == "TRADE_CLOSED":
        return await payment_service.apply_closed(session, "alipay", note.out_trade_no)
    return Outcome.ignored


def log_rejection(provider: str, exc: NotificationRejected) -> None:
    """Rejected notifications are logged for operators (the provider will retry)."""
    log.warning("payment notification rejected", provider=provider, reason=str(exc))
