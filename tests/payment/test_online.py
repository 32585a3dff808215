"""WeChat Pay and Alipay: orders, verified notifications applied exactly once, refunds."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from sqlalchemy import func, select

from app.insurance import settlement as settlement_service
from app.models import LedgerEntry, OutboxMessage, Payment, PaymentRefund
from app.outbox.types import ClaimedMessage
from app.payment.providers.alipay import fen_to_yuan
from app.payment.refunds import PAYMENT_REFUND, refund_handler
from tests.payment.flows import collected as _collected
from tests.payment.flows import start_online as _start

WECHAT_NOTIFY = "/api/v1/payments/notify/wechat"
ALIPAY_NOTIFY = "/api/v1/payments/notify/alipay"


async def test_wechat_order_returns_signed_client_parameters(
    client, providers, fake_wechatpay, delivery
) -> None:
    started = await _start(client, delivery, "wechat")
    assert started["client_params"]["package"].startswith("prepay_id=")
    assert started["payment"]["amount_fen"] == 16_000
    assert fake_wechatpay.received[0][1]["amount"] == {"total": 16_000, "currency": "CNY"}


async def test_wechat_notification_is_applied_once(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    started = await _start(client, delivery, "wechat")
    headers, body = fake_wechatpay.paid(started["payment"]["receipt_no"], 16_000, "4200000001")
    for _ in range(3):  # WeChat retries; each must be acknowledged and booked once
        response = await client.post(WECHAT_NOTIFY, content=body, headers=headers)
        assert response.status_code == 204
    assert await _collected(db_session, delivery) == 16_000
    payment = await db_session.get(Payment, uuid.UUID(started["payment"]["id"]))
    await db_session.refresh(payment)
    assert payment.status == "succeeded"


async def test_wechat_notification_with_a_bad_signature_is_rejected(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    started = await _start(client, delivery, "wechat")
    headers, body = fake_wechatpay.paid(started["payment"]["receipt_no"], 16_000, "4200000002")
    tampered = body.replace(b'"summary"', b'"summarY"')
    assert (await client.post(WECHAT_NOTIFY, content=tampered, headers=headers)).status_code == 400
    unknown_serial = {**headers, "Wechatpay-Serial": "UNKNOWN"}
    assert (
        await client.post(WECHAT_NOTIFY, content=body, headers=unknown_serial)
    ).status_code == 400
    assert await _collected(db_session, delivery) == 0


async def test_replayed_old_wechat_notification_is_rejected(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    started = await _start(client, delivery, "wechat")
    headers, body = fake_wechatpay.paid(
        started["payment"]["receipt_no"], 16_000, "4200000003", timestamp=int(time.time()) - 3600
    )
    assert (await client.post(WECHAT_NOTIFY, content=body, headers=headers)).status_code == 400
    assert await _collected(db_session, delivery) == 0


async def test_wechat_notification_with_another_amount_is_rejected(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    started = await _start(client, delivery, "wechat")
    headers, body = fake_wechatpay.paid(started["payment"]["receipt_no"], 1, "4200000004")
    assert (await client.post(WECHAT_NOTIFY, content=body, headers=headers)).status_code == 400
    headers, body = fake_wechatpay.paid("P-not-ours", 16_000, "4200000005")
    assert (await client.post(WECHAT_NOTIFY, content=body, headers=headers)).status_code == 400
    assert await _collected(db_session, delivery) == 0


async def test_close_arriving_after_success_keeps_the_payment(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    started = await _start(client, delivery, "wechat")
    out_trade_no = started["payment"]["receipt_no"]
    headers, body = fake_wechatpay.paid(out_trade_no, 16_000, "4200000006")
    await client.post(WECHAT_NOTIFY, content=body, headers=headers)
    headers, body = fake_wechatpay.paid(out_trade_no, 16_000, "4200000006", state="CLOSED")
    assert (await client.post(WECHAT_NOTIFY, content=body, headers=headers)).status_code == 204
    payment = await db_session.get(Payment, uuid.UUID(started["payment"]["id"]))
    await db_session.refresh(payment)
    assert payment.status == "succeeded"


def _alipay_paid(fake, out_trade_no: str, fen: int, status: str = "TRADE_SUCCESS") -> str:
    return urlencode(
        fake.notification(
            out_trade_no=out_trade_no,
            trade_no="2026031022001400000001",
            trade_status=status,
            total_amount=fen_to_yuan(fen),
            receipt_amount=fen_to_yuan(fen),
        )
    )


async def test_alipay_notification_is_verified_and_applied_once(
    client, db_session, providers, fake_alipay, delivery
) -> None:
    started = await _start(client, delivery, "alipay")
    assert started["client_params"]["qr_code"].startswith("https://qr.alipay.com/")
    out_trade_no = started["payment"]["receipt_no"]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for status in ("TRADE_SUCCESS", "TRADE_SUCCESS", "TRADE_FINISHED"):
        response = await client.post(
            ALIPAY_NOTIFY,
            content=_alipay_paid(fake_alipay, out_trade_no, 16_000, status),
            headers=form,
        )
        assert response.text == "success"
    assert await _collected(db_session, delivery) == 16_000


async def test_alipay_notification_with_a_bad_signature_answers_failure(
    client, db_session, providers, fake_alipay, delivery
) -> None:
    started = await _start(client, delivery, "alipay")
    body = _alipay_paid(fake_alipay, started["payment"]["receipt_no"], 16_000).replace(
        "total_amount=160.00", "total_amount=1.00"
    )
    response = await client.post(
        ALIPAY_NOTIFY, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.text == "failure"
    assert await _collected(db_session, delivery) == 0


async def test_paying_twice_refunds_the_second_payment(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    started = await _start(client, delivery, "wechat")
    cash = {"method": "cash", "amount_fen": 16_000, "collection_id": str(uuid.uuid4())}
    await client.post(
        f"/api/v1/payments/settlements/{delivery.settlement.id}/hand-over",
        json=cash,
        headers=delivery.courier_headers,
    )
    out_trade_no = started["payment"]["receipt_no"]
    headers, body = fake_wechatpay.paid(out_trade_no, 16_000, "4200000007")
    assert (await client.post(WECHAT_NOTIFY, content=body, headers=headers)).status_code == 204
    refund = await db_session.scalar(
        select(PaymentRefund).where(PaymentRefund.payment_id == uuid.UUID(started["payment"]["id"]))
    )
    assert refund.amount_fen == 16_000 and refund.status == "requested"
    # Both payments are held until WeChat Pay confirms the refund: then one is given back.
    assert await _collected(db_session, delivery) == 32_000
    headers, body = fake_wechatpay.refunded(out_trade_no, refund.out_refund_no, 16_000, 16_000)
    assert (await client.post(WECHAT_NOTIFY, content=body, headers=headers)).status_code == 204
    assert await _collected(db_session, delivery) == 16_000


async def test_reversal_refunds_online_payment_through_the_outbox(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    started = await _start(client, delivery, "wechat")
    out_trade_no = started["payment"]["receipt_no"]
    headers, body = fake_wechatpay.paid(out_trade_no, 16_000, "4200000008")
    await client.post(WECHAT_NOTIFY, content=body, headers=headers)
    await settlement_service.reverse(
        db_session, delivery.settlement.id, "returned", uuid.uuid4().hex
    )
    refund = await db_session.scalar(
        select(PaymentRefund).where(PaymentRefund.payment_id == uuid.UUID(started["payment"]["id"]))
    )
    message = await db_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"refund:{refund.out_refund_no}"
        )
    )
    assert message.kind == PAYMENT_REFUND
    await refund_handler(providers)(
        ClaimedMessage(message.id, message.kind, message.payload, message.idempotency_key, 1)
    )
    assert fake_wechatpay.received[-1][1]["amount"]["refund"] == 16_000
    headers, body = fake_wechatpay.refunded(out_trade_no, refund.out_refund_no, 16_000, 16_000)
    assert (await client.post(WECHAT_NOTIFY, content=body, headers=headers)).status_code == 204
    await db_session.refresh(refund)
    assert refund.status == "succeeded"
    assert await _collected(db_session, delivery) == 0
    total = await db_session.scalar(
        select(func.sum(LedgerEntry.amount_fen)).where(
            LedgerEntry.patient_id == delivery.patient.id
        )
    )
    assert total == 0


async def test_alipay_refund_is_sent_signed(providers, fake_alipay) -> None:
    await providers.alipay.refund("P1", "R1", 1_234, "returned", datetime.now(UTC))
    assert fake_alipay.received[-1] == (
        "alipay.trade.refund",
        {
            "out_trade_no": "P1",
            "out_request_no": "R1",
            "refund_amount": "12.34",
            "refund_reason": "returned",
        },
    )
