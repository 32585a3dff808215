"""Alipay checked with python-alipay-sdk (PyPI), an implementation independent of ours: our
requests (precreate, refund, refund query) are what the SDK signs, sign_type included; the
notifications and answers the fake signs the SDK's way are what we accept; a refund goes from
request to confirmation through them."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote_plus, urlencode

from app.payment.refunds import follow_up
from app.payment.states import RefundStatus
from tests.payment.fakes import FakeAlipay
from tests.payment.flows import refund_asked_of_provider

ALIPAY_NOTIFY = "/api/v1/payments/notify/alipay"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _sign_of(sdk_signed: str) -> str:
    # AliPay.sign_data answers the query string with the signature last.
    return dict(pair.split("=", 1) for pair in sdk_signed.split("&"))["sign"]


def test_our_request_is_signed_exactly_as_the_sdk_signs_it(fake_alipay: FakeAlipay) -> None:
    ours = fake_alipay.client().signed_params(
        "alipay.trade.refund",
        {"out_trade_no": "P1", "out_request_no": "R1", "refund_amount": "12.34"},
        datetime(2026, 3, 10, 2, tzinfo=UTC),
    )
    assert ours["sign_type"] == "RSA2"
    unsigned = {k: v for k, v in ours.items() if k != "sign"}
    # RSA PKCS#1 v1.5 is deterministic: the SDK signing the same parameters with the same key
    # gives the same signature only if both sign the same string.
    assert (
        unquote_plus(_sign_of(fake_alipay.merchant_sdk.sign_data(dict(unsigned)))) == ours["sign"]
    )
    assert fake_alipay.request_verifies(ours)
    # The signature covers sign_type: a request without it in the signed string fails.
    assert not fake_alipay.request_verifies({**ours, "sign_type": "RSA"})


async def test_precreate_and_refund_reach_the_sdk_checked_gateway(providers, fake_alipay) -> None:
    now = datetime.now(UTC)
    qr = await providers.alipay.precreate("P2", 16_000, "慢病药品个人负担", now)
    assert qr["qr_code"].startswith("https://qr.alipay.com/")
    outcome = await providers.alipay.refund("P2", "R2", 16_000, "returned", now)
    assert outcome.status == "succeeded"
    queried = await providers.alipay.query_refund("P2", "R2", now)
    assert queried.status == "succeeded"
    assert [method for method, _ in fake_alipay.received] == [
        "alipay.trade.precreate",
        "alipay.trade.refund",
        "alipay.trade.fastpay.refund.query",
    ]
    assert fake_alipay.refused == []


async def test_an_alipay_refund_is_confirmed_by_its_notification(
    client, db_session, providers, fake_alipay, delivery
) -> None:
    fake_alipay.fund_change = "N"
    refund = await refund_asked_of_provider(client, db_session, providers, fake_alipay, delivery)
    assert fake_alipay.received[-1][0] == "alipay.trade.refund"
    assert refund.status == "requested"
    note = fake_alipay.refund_notification(
        fake_alipay.received[-1][1]["out_trade_no"], refund.out_refund_no, 16_000, 16_000
    )
    for _ in range(2):  # Alipay repeats until it reads "success"
        response = await client.post(ALIPAY_NOTIFY, content=urlencode(note), headers=FORM)
        assert response.text == "success"
    await db_session.refresh(refund)
    assert refund.status == RefundStatus.succeeded and refund.booked_at is not None


async def test_an_alipay_refund_notification_for_an_unknown_refund_answers_failure(
    client, fake_alipay, providers
) -> None:
    note = fake_alipay.refund_notification("P-x", "R-unknown", 100, 100)
    response = await client.post(ALIPAY_NOTIFY, content=urlencode(note), headers=FORM)
    assert response.text == "failure"


async def test_an_unconfirmed_alipay_refund_is_confirmed_by_the_follow_up_query(
    client, db_session, providers, fake_alipay, delivery, settings, sessionmaker
) -> None:
    refund = await refund_asked_of_provider(client, db_session, providers, fake_alipay, delivery)
    assert refund.status == "requested"  # fund_change=Y is not recorded by the sender
    later = refund.created_at.timestamp() + settings.payment_refund_query_after_seconds + 1
    report = await follow_up(sessionmaker, providers, settings, datetime.fromtimestamp(later, UTC))
    assert report.checked >= 1 and report.changed >= 1
    await db_session.refresh(refund)
    assert refund.status == "succeeded"
    assert fake_alipay.received[-1][0] == "alipay.trade.fastpay.refund.query"
