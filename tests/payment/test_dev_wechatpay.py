"""The development WeChat Pay: used only where the fakes are served and no merchant is set; the
patient's payment in the fake reaches our notify endpoint signed, and is booked after the real
verification."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Mount

from app.config import Settings
from app.main import create_app
from app.models import OutboxMessage, PaymentRefund
from app.outbox.types import ClaimedMessage
from app.payment.fake_wechatpay import dev_merchant_fake
from app.payment.providers import PaymentGateway, dev_merchant, get_gateway, wechat_config
from app.payment.providers.keys import public_pem
from app.payment.providers.wechat import WeChatPayClient
from app.payment.refunds import refund_handler
from tests.payment.fakes import new_key

BILL = "/api/v1/payments/settlements/{}/bill"
NOTIFY = "/api/v1/payments/notify/wechat"


def test_development_without_a_merchant_pays_through_the_local_fake(settings) -> None:
    config = wechat_config(settings)
    assert config is not None
    assert config.mchid == dev_merchant.MCHID
    assert config.api_base == f"{settings.payment_notify_base_url}/_dev/wechatpay"
    assert list(config.platform_keys) == [dev_merchant.PLATFORM_SERIAL]


def test_without_the_fakes_or_with_a_real_merchant_the_dev_merchant_is_never_used(
    settings,
) -> None:
    assert wechat_config(settings.model_copy(update={"fake_wechat_enabled": False})) is None
    real = Settings(
        APP_ENV="test",
        wechatpay_mchid="1230000109",
        wechatpay_merchant_serial="REAL-SERIAL",
        wechatpay_merchant_private_key=dev_merchant.MERCHANT_PRIVATE_KEY,
        wechatpay_platform_public_keys={"REAL-PLATFORM": public_pem(new_key("real-platform"))},
    )
    config = wechat_config(real)
    assert config is not None
    assert (config.mchid, config.api_base) == ("1230000109", "https://api.mch.weixin.qq.com")
    assert list(config.platform_keys) == ["REAL-PLATFORM"]


def test_the_service_serves_the_fake_only_in_place_of_a_missing_merchant(settings) -> None:
    def mounts(app_settings: Settings) -> set[str]:
        return {getattr(r, "path", "") for r in create_app(app_settings).routes}

    assert dev_merchant.FAKE_WECHATPAY_PATH in mounts(settings)
    for update in ({"fake_wechat_enabled": False}, {"wechatpay_mchid": "1230000109"}):
        assert dev_merchant.FAKE_WECHATPAY_PATH not in mounts(settings.model_copy(update=update))


@dataclass
class DevWeChatPay:
    """The dev merchant's fake as the service mounts it, and our gateway talking to it."""

    phone: httpx.AsyncClient  # where the mini-program's wx.requestPayment goes
    gateway: PaymentGateway


@pytest.fixture
async def wechat(app, client, settings) -> AsyncIterator[DevWeChatPay]:
    """The fake delivers its notifications to our notify endpoint; the app uses the gateway."""

    async def deliver(url: str, headers: dict[str, str], body: bytes) -> int:
        assert url == f"{settings.payment_notify_base_url}{NOTIFY}"
        return (await client.post(NOTIFY, content=body, headers=headers)).status_code

    fake = dev_merchant_fake(settings, notifier=deliver)
    served = httpx.ASGITransport(
        app=Starlette(routes=[Mount(dev_merchant.FAKE_WECHATPAY_PATH, app=fake.app)])
    )
    config = wechat_config(settings)
    assert config is not None
    async with (
        httpx.AsyncClient(transport=served) as http,
        httpx.AsyncClient(
            transport=served,
            base_url=settings.payment_notify_base_url + dev_merchant.FAKE_WECHATPAY_PATH,
        ) as phone,
    ):
        gateway = PaymentGateway(wechat=WeChatPayClient(config, http), alipay=None)
        app.dependency_overrides[get_gateway] = lambda: gateway
        yield DevWeChatPay(phone, gateway)
        app.dependency_overrides.pop(get_gateway, None)


async def _started(client, delivery) -> dict:
    response = await client.post(
        f"/api/v1/payments/settlements/{delivery.settlement.id}/online",
        json={"method": "wechat"},
        headers=delivery.patient_headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_paying_in_the_fake_books_the_payment_through_the_signed_notification(
    client, wechat, delivery
) -> None:
    started = await _started(client, delivery)
    paid = await wechat.phone.post("/request-payment", json=started["client_params"])
    assert paid.status_code == 200, paid.text
    assert paid.json()["errMsg"] == "requestPayment:ok"
    assert paid.json()["notification_status"] == 204
    bill = await client.get(BILL.format(delivery.settlement.id), headers=delivery.patient_headers)
    assert bill.json()["outstanding_fen"] == 0
    [payment] = bill.json()["payments"]
    assert payment["status"] == "succeeded"
    assert payment["provider_transaction_id"] == paid.json()["transaction_id"]
    again = await wechat.phone.post("/request-payment", json=started["client_params"])
    assert again.status_code == 409


async def test_a_forged_pay_sign_pays_nothing(client, wechat, delivery) -> None:
    started = await _started(client, delivery)
    forged = {**started["client_params"], "package": "prepay_id=wx-someone-elses"}
    refused = await wechat.phone.post("/request-payment", json=forged)
    assert refused.status_code == 400
    assert refused.json()["errMsg"] == "requestPayment:fail invalid paySign"
    bill = await client.get(BILL.format(delivery.settlement.id), headers=delivery.patient_headers)
    assert bill.json()["outstanding_fen"] == delivery.settlement.cash_fen


async def test_a_refund_asked_of_the_fake_is_confirmed_by_its_notification(
    client, db_session, wechat, delivery
) -> None:
    started = await _started(client, delivery)
    cash = {"method": "cash", "amount_fen": delivery.settlement.cash_fen,
            "collection_id": str(uuid.uuid4())}  # fmt: skip
    collected = await client.post(
        f"/api/v1/payments/settlements/{delivery.settlement.id}/hand-over",
        json=cash,
        headers=delivery.courier_headers,
    )
    assert collected.status_code == 201, collected.text
    # Paid twice: the WeChat payment is refunded through the outbox.
    paid = await wechat.phone.post("/request-payment", json=started["client_params"])
    assert paid.json()["notification_status"] == 204
    refund = await db_session.scalar(
        select(PaymentRefund).where(PaymentRefund.payment_id == uuid.UUID(started["payment"]["id"]))
    )
    assert refund.status == "requested"
    message = await db_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"refund:{refund.out_refund_no}"
        )
    )
    await refund_handler(wechat.gateway)(
        ClaimedMessage(message.id, message.kind, message.payload, message.idempotency_key, 1)
    )
    await db_session.refresh(refund)
    assert refund.status == "succeeded"
