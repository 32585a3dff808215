"""Webhooks replayed verbatim (the same bytes, the same signature headers): the first delivery
takes effect, copies have no second effect, and a copy replayed after the signature window is
refused. Every table the delivery touches is counted before and after.

tests/payment/test_online.py and tests/pharmacy/test_partner.py cover forged signatures, old
timestamps at signing, other amounts and nonce reuse with another body; these add the verbatim
replay and its "no state change" by row counts.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from app.kit.clock import shifted_by, utcnow
from app.models import (
    LedgerEntry,
    OrderTransition,
    OutboxMessage,
    PartnerCallback,
    Payment,
    PaymentRefund,
    PharmacyOrder,
    StoreIntegration,
)
from app.payment.providers.alipay import fen_to_yuan
from app.pharmacy.webhooks import signature_headers
from tests.hostile.conftest import row_counts
from tests.prescription.world import World, build, ordered

SECRET = "partner-shared-secret-0123456789abcdef"
PARTNER_TABLES = (OrderTransition, PartnerCallback, OutboxMessage)
PAYMENT_TABLES = (Payment, LedgerEntry, PaymentRefund, OutboxMessage)


@pytest.fixture
async def partner_order(client, app, db_session, settings) -> tuple[World, dict, str]:
    """An order at a store whose partner system reports back; the callback URL."""
    world = await build(db_session, settings, app=app)
    db_session.add(
        StoreIntegration(
            store_id=world.store.id, webhook_url="http://partner.invalid/hooks", secret=SECRET
        )
    )
    await db_session.flush()
    order = await ordered(client, world)
    return world, order, f"/api/v1/partner/stores/{world.store.id}/callbacks"


def _signed_callback(report: dict, nonce: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(report).encode()
    headers = {
        **signature_headers(SECRET, body, utcnow()),
        "Idempotency-Key": nonce,
        "Content-Type": "application/json",
    }
    return body, headers


async def _order_status(db_session, order: dict) -> str:
    row = await db_session.get(PharmacyOrder, uuid.UUID(order["id"]))
    await db_session.refresh(row)
    return row.status


async def test_a_partner_callback_replayed_verbatim_has_no_second_effect(
    client, db_session, partner_order
) -> None:
    _, order, url = partner_order
    body, headers = _signed_callback({"order_id": order["id"], "status": "accepted"}, "n-1")
    first = await client.post(url, content=body, headers=headers)
    assert first.status_code == 200 and first.json()["outcome"] == "applied"
    before = await row_counts(db_session, *PARTNER_TABLES)
    for _ in range(3):
        again = await client.post(url, content=body, headers=headers)
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert await row_counts(db_session, *PARTNER_TABLES) == before
    assert await _order_status(db_session, order) == "accepted"


async def test_a_partner_callback_replayed_after_its_window_is_refused(
    client, db_session, settings, partner_order
) -> None:
    _, order, url = partner_order
    body, headers = _signed_callback({"order_id": order["id"], "status": "accepted"}, "n-2")
    before = await row_counts(db_session, *PARTNER_TABLES)
    with shifted_by(timedelta(seconds=settings.partner_signature_window_seconds + 1)):
        late = await client.post(url, content=body, headers=headers)
    assert late.status_code == 401 and late.json()["code"] == "partner_callback_stale"
    assert late.headers["content-type"].startswith("application/problem+json")
    assert await row_counts(db_session, *PARTNER_TABLES) == before
    assert await _order_status(db_session, order) == "created"


async def _pay_online(client, delivery, method: str) -> str:
    response = await client.post(
        f"/api/v1/payments/settlements/{delivery.settlement.id}/online",
        json={"method": method},
        headers=delivery.patient_headers,
    )
    assert response.status_code == 200, response.text
    return response.json()["payment"]["receipt_no"]


async def test_a_wechat_notification_replayed_verbatim_has_no_second_effect(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    receipt_no = await _pay_online(client, delivery, "wechat")
    headers, body = fake_wechatpay.paid(receipt_no, 16_000, "4200000101")
    url = "/api/v1/payments/notify/wechat"
    assert (await client.post(url, content=body, headers=headers)).status_code == 204
    before = await row_counts(db_session, *PAYMENT_TABLES)
    for _ in range(3):
        assert (await client.post(url, content=body, headers=headers)).status_code == 204
    assert await row_counts(db_session, *PAYMENT_TABLES) == before


async def test_a_wechat_notification_replayed_after_its_window_is_refused(
    client, db_session, settings, providers, fake_wechatpay, delivery
) -> None:
    receipt_no = await _pay_online(client, delivery, "wechat")
    headers, body = fake_wechatpay.paid(receipt_no, 16_000, "4200000102")
    before = await row_counts(db_session, *PAYMENT_TABLES)
    skew = settings.wechatpay_notification_max_skew_seconds
    with shifted_by(timedelta(seconds=skew + 5)):
        late = await client.post("/api/v1/payments/notify/wechat", content=body, headers=headers)
    assert late.status_code == 400 and late.json()["code"] == "FAIL"
    assert await row_counts(db_session, *PAYMENT_TABLES) == before


async def test_an_alipay_notification_replayed_verbatim_has_no_second_effect(
    client, db_session, providers, fake_alipay, delivery
) -> None:
    receipt_no = await _pay_online(client, delivery, "alipay")
    body = urlencode(
        fake_alipay.notification(
            out_trade_no=receipt_no,
            trade_no="2026031022001400000101",
            trade_status="TRADE_SUCCESS",
            total_amount=fen_to_yuan(16_000),
            receipt_amount=fen_to_yuan(16_000),
        )
    )
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    url = "/api/v1/payments/notify/alipay"
    assert (await client.post(url, content=body, headers=form)).text == "success"
    before = await row_counts(db_session, *PAYMENT_TABLES)
    for _ in range(3):
        assert (await client.post(url, content=body, headers=form)).text == "success"
    assert await row_counts(db_session, *PAYMENT_TABLES) == before
