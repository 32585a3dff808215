"""Steps the payment tests share: pay online, reverse, send a refund request, read the ledger."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from sqlalchemy import func, select

from app.insurance import settlement as settlement_service
from app.models import LedgerEntry, OutboxMessage, PaymentRefund
from app.outbox.types import ClaimedMessage
from app.payment.providers import PaymentGateway
from app.payment.providers.alipay import fen_to_yuan
from app.payment.refunds import refund_handler, refund_request_key
from tests.payment.fakes import FakeAlipay, FakeWeChatPay


async def collected(db_session, delivery) -> int:
    """What the ledger holds as collected for the delivery's settlement, in fen."""
    return int(
        await db_session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                LedgerEntry.settlement_id == delivery.settlement.id,
                LedgerEntry.account.like("collected_%"),
            )
        )
    )


async def start_online(client, delivery, method: str) -> dict:
    """The patient opens a WeChat Pay or Alipay order for the share; the answer's JSON."""
    response = await client.post(
        f"/api/v1/payments/settlements/{delivery.settlement.id}/online",
        json={"method": method},
        headers=delivery.patient_headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def paid_online_then_reversed(
    client, db_session, fake: FakeWeChatPay | FakeAlipay, delivery
) -> PaymentRefund:
    """The share paid online (notified by `fake`), then the settlement reversed: its refund."""
    method = "wechat" if isinstance(fake, FakeWeChatPay) else "alipay"
    payment = (await start_online(client, delivery, method))["payment"]
    fen = payment["amount_fen"]
    if isinstance(fake, FakeWeChatPay):
        headers, body = fake.paid(payment["receipt_no"], fen, f"42{uuid.uuid4().int % 10**20}")
        response = await client.post(
            "/api/v1/payments/notify/wechat", content=body, headers=headers
        )
        assert response.status_code == 204
    else:
        params = fake.notification(
            out_trade_no=payment["receipt_no"],
            trade_no="2026031022001400000001",
            trade_status="TRADE_SUCCESS",
            total_amount=fen_to_yuan(fen),
        )
        response = await client.post(
            "/api/v1/payments/notify/alipay",
            content=urlencode(params),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.text == "success"
    await settlement_service.reverse(
        db_session, delivery.settlement.id, "returned", uuid.uuid4().hex
    )
    refund = await db_session.scalar(
        select(PaymentRefund).where(PaymentRefund.payment_id == uuid.UUID(payment["id"]))
    )
    assert refund is not None
    return refund


async def send_refund_request(db_session, gateway: PaymentGateway, refund: PaymentRefund) -> None:
    """Deliver the refund's outbox message to the provider, as the relay would."""
    message = await db_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == refund_request_key(refund.out_refund_no)
        )
    )
    await refund_handler(gateway)(
        ClaimedMessage(message.id, message.kind, message.payload, message.idempotency_key, 1)
    )
    await db_session.refresh(refund)


async def refund_asked_of_provider(
    client, db_session, gateway: PaymentGateway, fake: FakeWeChatPay | FakeAlipay, delivery
) -> PaymentRefund:
    """Paid online, reversed, and the refund request delivered to the provider."""
    refund = await paid_online_then_reversed(client, db_session, fake, delivery)
    await send_refund_request(db_session, gateway, refund)
    return refund
