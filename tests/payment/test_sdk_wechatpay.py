"""WeChat Pay v3 checked with the wechatpayv3 SDK (PyPI), an implementation independent of ours.

Both directions: our signed requests are what the SDK signs; the development fake's answers and
notifications (payments and refunds) are accepted by the SDK, and its refund notifications by
our notify endpoint.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
import pytest
import wechatpayv3.utils
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.async_ import AsyncWeChatPay
from wechatpayv3.async_ import WeChatPayType as AsyncPayType

from app.models import OutboxMessage
from app.payment.providers import ProviderError
from app.payment.providers.wechat import AUTH_SCHEMA, WeChatPayClient, WeChatPayConfig
from tests.payment.fakes import FakeWeChatPay
from tests.payment.flows import refund_asked_of_provider

NOTIFY = "/api/v1/payments/notify/wechat"
MERCHANT_SERIAL = "MERCHANT-SERIAL-1"


def _private_pem(fake: FakeWeChatPay) -> str:
    return fake.merchant_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _platform_pem(fake: FakeWeChatPay) -> str:
    return (
        fake.platform_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _sdk_options(fake: FakeWeChatPay) -> dict[str, object]:
    # "Platform public key" mode: the serial WeChat names is the public key's id.
    return {
        "mchid": fake.mchid,
        "private_key": _private_pem(fake),
        "cert_serial_no": MERCHANT_SERIAL,
        "appid": fake.appid,
        "apiv3_key": fake.apiv3_key.decode(),
        "notify_url": "http://testserver/api/v1/payments/notify/wechat",
        "public_key": _platform_pem(fake),
        "public_key_id": fake.serial,
    }


def merchant_sdk(fake: FakeWeChatPay) -> WeChatPay:
    """The SDK as a merchant runs it (verifies callbacks with the platform key)."""
    return WeChatPay(WeChatPayType.MINIPROG, **_sdk_options(fake))  # type: ignore[arg-type]


@pytest.fixture
async def async_sdk(fake_wechatpay: FakeWeChatPay) -> AsyncIterator[AsyncWeChatPay]:
    """The SDK's async client, its HTTP calls served by the fake."""
    sdk = AsyncWeChatPay(AsyncPayType.MINIPROG, **_sdk_options(fake_wechatpay))  # type: ignore[arg-type]
    async with sdk:
        await sdk._core._client.aclose()
        sdk._core._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake_wechatpay.app))
        sdk._core._gate_way = "http://wechatpay.test"
        yield sdk


def _signature_of(authorization: str) -> dict[str, str]:
    fields = authorization.removeprefix(f"{AUTH_SCHEMA} ").split(",")
    return {name: value.strip('"') for name, _, value in (f.partition("=") for f in fields)}


async def test_our_request_authorization_is_what_the_sdk_builds(
    fake_wechatpay: FakeWeChatPay, monkeypatch
) -> None:
    sent: list[httpx.Request] = []

    async def capture(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return await httpx.ASGITransport(app=fake_wechatpay.app).handle_async_request(request)

    config: WeChatPayConfig = fake_wechatpay.config()
    client = WeChatPayClient(config, httpx.AsyncClient(transport=httpx.MockTransport(capture)))
    await client.refund("P1", "R1", 1_234, 5_000, "退货", datetime.now(UTC))
    await client.query_refund("R1", datetime.now(UTC))
    for request in sent:
        ours = request.headers["Authorization"]
        fields = _signature_of(ours)
        # The SDK builds the header from the clock; give it the moment ours was signed at.
        monkeypatch.setattr(
            wechatpayv3.utils, "time", SimpleNamespace(time=lambda f=fields: int(f["timestamp"]))
        )
        theirs = wechatpayv3.utils.build_authorization(
            request.url.raw_path.decode(),
            request.method,
            config.mchid,
            MERCHANT_SERIAL,
            config.merchant_private_key,
            data=request.content.decode() or None,
            nonce_str=fields["nonce_str"],
        )
        assert ours == theirs


async def test_the_fakes_answers_are_accepted_by_the_sdk(
    fake_wechatpay: FakeWeChatPay, async_sdk: AsyncWeChatPay
) -> None:
    # The SDK verifies every 2xx answer's signature (it needs Wechatpay-Signature-Type).
    code, text = await async_sdk.pay(
        description="慢病药品个人负担",
        out_trade_no="P-sdk-1",
        amount={"total": 16_000, "currency": "CNY"},
        payer={"openid": "o-sdk"},
        pay_type=AsyncPayType.JSAPI,
    )
    assert code == 200 and json.loads(text)["prepay_id"].startswith("wx")
    code, text = await async_sdk.refund(
        out_refund_no="R-sdk-1",
        amount={"refund": 16_000, "total": 16_000, "currency": "CNY"},
        out_trade_no="P-sdk-1",
        reason="退货",
    )
    assert code == 200 and json.loads(text)["status"] == "PROCESSING"
    code, text = await async_sdk.query_refund("R-sdk-1")
    assert code == 200 and json.loads(text)["status"] == "SUCCESS"
    code, _ = await async_sdk.query_refund("R-sdk-unknown")
    assert code == 404


async def test_an_answer_without_the_signature_type_is_refused_by_sdk_and_by_us(
    fake_wechatpay: FakeWeChatPay, async_sdk: AsyncWeChatPay, monkeypatch
) -> None:
    signed = fake_wechatpay.signature_headers

    def without_type(body: str, **kwargs: object) -> dict[str, str]:
        headers = signed(body, **kwargs)  # type: ignore[arg-type]
        del headers["Wechatpay-Signature-Type"]
        return headers

    monkeypatch.setattr(fake_wechatpay, "signature_headers", without_type)
    with pytest.raises(Exception, match="does not support this algorithm"):
        await async_sdk.refund(
            out_refund_no="R-untyped",
            amount={"refund": 100, "total": 100, "currency": "CNY"},
            out_trade_no="P-untyped",
        )
    with pytest.raises(ProviderError, match="Signature-Type"):
        await fake_wechatpay.client().query_refund("R-untyped", datetime.now(UTC))


def test_the_fakes_notifications_are_accepted_by_the_sdk(fake_wechatpay: FakeWeChatPay) -> None:
    sdk = merchant_sdk(fake_wechatpay)
    headers, body = fake_wechatpay.paid("P-sdk-2", 16_000, "4200000901")
    paid = sdk.callback(headers, body)
    assert paid is not None
    assert paid["event_type"] == "TRANSACTION.SUCCESS"
    assert paid["resource"]["out_trade_no"] == "P-sdk-2"
    headers, body = fake_wechatpay.refunded("P-sdk-2", "R-sdk-2", 16_000, 16_000)
    refunded = sdk.callback(headers, body)
    assert refunded is not None
    assert refunded["event_type"] == "REFUND.SUCCESS"
    assert refunded["resource"]["refund_status"] == "SUCCESS"
    assert refunded["resource"]["out_refund_no"] == "R-sdk-2"
    # A notification the SDK cannot verify is not one the fake may send.
    tampered = body.replace(b'"REFUND.SUCCESS"', b'"REFUND.CLOSED"')
    assert sdk.callback(headers, tampered) is None


async def test_a_refund_notification_the_sdk_accepts_confirms_the_refund(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    refund = await refund_asked_of_provider(client, db_session, providers, fake_wechatpay, delivery)
    await db_session.refresh(refund)
    assert refund.status == "requested"
    headers, body = fake_wechatpay.refunded(
        fake_wechatpay.received[-1][1]["out_trade_no"], refund.out_refund_no, 16_000, 16_000
    )
    assert merchant_sdk(fake_wechatpay).callback(headers, body) is not None
    assert (await client.post(NOTIFY, content=body, headers=headers)).status_code == 204
    await db_session.refresh(refund)
    assert refund.status == "succeeded" and refund.booked_at is not None


async def test_an_abnormal_refund_notification_fails_the_refund_and_tells_people(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    refund = await refund_asked_of_provider(client, db_session, providers, fake_wechatpay, delivery)
    headers, body = fake_wechatpay.refunded(
        fake_wechatpay.received[-1][1]["out_trade_no"],
        refund.out_refund_no,
        16_000,
        16_000,
        status="ABNORMAL",
    )
    assert merchant_sdk(fake_wechatpay).callback(headers, body)["event_type"] == "REFUND.ABNORMAL"
    assert (await client.post(NOTIFY, content=body, headers=headers)).status_code == 204
    await db_session.refresh(refund)
    assert (refund.status, refund.failure_reason) == ("failed", "provider: ABNORMAL")
    assert refund.booked_at is None
    told = await db_session.scalars(
        select(OutboxMessage.idempotency_key).where(
            OutboxMessage.idempotency_key.like(f"refund_failed:{refund.id}:%")
        )
    )
    assert f"refund_failed:{refund.id}:patient" in set(told)
    bill = await client.get(
        f"/api/v1/payments/settlements/{delivery.settlement.id}/bill",
        headers=delivery.patient_headers,
    )
    [shown] = bill.json()["refunds"]
    assert (shown["status"], shown["failure_reason"]) == ("failed", "provider: ABNORMAL")
