"""Payment notifications delivered twice, concurrently and out of order, to a real server
(uvicorn process, WeChat Pay configured against a local fake): money is booked exactly once.

tests/payment/test_online.py covers sequential repeats in-process; here the repeats race on
separate database connections, and the refund notification overtakes WeChat's redelivery of
the success it followed.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from app.insurance import settlement as settlement_service
from app.models import (
    Account,
    LedgerEntry,
    OutboxMessage,
    Payment,
    PaymentRefund,
    PharmacyStaff,
    Role,
)
from app.payment.refunds import PAYMENT_REFUND
from tests.faults.conftest import FaultDb, committed_database, count_of, service_env
from tests.fixtures import factories
from tests.fixtures.servers import UvicornProcess, serve_in_loop, start_uvicorn, wait_until
from tests.insurance import world as insurance_world
from tests.payment.fakes import FakeWeChatPay

pytestmark = pytest.mark.postgres

NOTIFY = "/api/v1/payments/notify/wechat"
CONCURRENT = 4  # copies of one notification sent at the same moment


@dataclass
class Server:
    db: FaultDb
    world: insurance_world.World
    courier: dict[str, str]
    wechatpay: FakeWeChatPay
    process: UvicornProcess
    http: httpx.AsyncClient


def _wechatpay_env(fake: FakeWeChatPay, api_base: str) -> dict[str, str]:
    """WeChat Pay settings of a merchant whose platform is `fake` (keys as PEM texts)."""
    merchant_key = fake.merchant_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    platform_key = fake.platform_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "wechat_appid": fake.appid,
        "wechatpay_api_base": api_base,
        "wechatpay_mchid": fake.mchid,
        "wechatpay_apiv3_key": fake.apiv3_key.decode(),
        "wechatpay_merchant_serial": "MERCHANT-SERIAL-1",
        "wechatpay_merchant_private_key": merchant_key.decode(),
        "wechatpay_platform_public_keys": json.dumps({fake.serial: platform_key.decode()}),
    }


@pytest.fixture(scope="module")
async def server() -> AsyncIterator[Server]:
    """The service with its outbox relay (refund requests reach the fake) on its own database."""
    fake = FakeWeChatPay()
    async with committed_database() as db, serve_in_loop(fake.app) as wechatpay_url:
        async with db.sessionmaker() as session:
            world = await insurance_world.build(session)
            courier = await factories.account(session, Role.courier)
            staff = await session.scalar(
                select(PharmacyStaff).where(PharmacyStaff.account_id == courier.id)
            )
            assert staff is not None
            staff.store_id = world.store.id
            courier_headers = await factories.bearer(session, db.settings, courier)
            await session.commit()
        env = service_env(
            db.url,
            outbox_relay_enabled="true",
            outbox_poll_seconds="0.1",
            **_wechatpay_env(fake, wechatpay_url),
        )
        async with (
            start_uvicorn(env) as process,
            httpx.AsyncClient(base_url=process.url, timeout=30) as http,
        ):
            yield Server(db, world, courier_headers, fake, process, http)


@dataclass
class Bill:
    settlement_id: uuid.UUID
    cash_fen: int
    patient: dict[str, str]


async def _bill(server: Server) -> Bill:
    """A new patient's settled order, with the personal share still to pay."""
    async with server.db.sessionmaker() as session:
        patient = await insurance_world.patient(session)
        claim = insurance_world.claim(server.world, patient, [(server.world.full, 15)])
        settlement = await settlement_service.settle(session, claim, insurance_world.message_id())
        account = await session.get(Account, patient.account_id)
        assert account is not None
        headers = await factories.bearer(session, server.db.settings, account)
        await session.commit()
    assert settlement.cash_fen > 0
    return Bill(settlement.id, settlement.cash_fen, headers)


async def _pay_online(server: Server, bill: Bill) -> dict[str, Any]:
    response = await server.http.post(
        f"/api/v1/payments/settlements/{bill.settlement_id}/online",
        json={"method": "wechat"},
        headers=bill.patient,
    )
    assert response.status_code == 200, response.text
    payment: dict[str, Any] = response.json()["payment"]
    return payment


async def _deliver(server: Server, notification: tuple[dict[str, str], bytes]) -> int:
    headers, body = notification
    return (await server.http.post(NOTIFY, content=body, headers=headers)).status_code


async def _statement(server: Server, bill: Bill) -> dict[str, Any]:
    response = await server.http.get(
        f"/api/v1/payments/settlements/{bill.settlement_id}/bill", headers=bill.patient
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def _bookings(db: FaultDb, payment_id: str, kind: str) -> int:
    """Ledger transactions of `kind` (payment or refund) that concern one payment."""
    return await db.scalar(
        select(func.count(func.distinct(LedgerEntry.transaction_id))).where(
            LedgerEntry.payment_id == uuid.UUID(payment_id), LedgerEntry.kind == kind
        )
    )


async def _refunds(db: FaultDb, bill: Bill) -> list[PaymentRefund]:
    async with db.sessionmaker() as session:
        rows = await session.scalars(
            select(PaymentRefund)
            .join(Payment, Payment.id == PaymentRefund.payment_id)
            .where(Payment.settlement_id == bill.settlement_id)
        )
        return list(rows)


async def test_the_same_success_delivered_concurrently_is_booked_once(server: Server) -> None:
    bill = await _bill(server)
    payment = await _pay_online(server, bill)
    success = server.wechatpay.paid(payment["receipt_no"], bill.cash_fen, "4200000101")
    statuses = await asyncio.gather(*(_deliver(server, success) for _ in range(CONCURRENT)))
    assert statuses == [204] * CONCURRENT  # each copy acknowledged, so WeChat stops resending
    assert await _bookings(server.db, payment["id"], "payment") == 1
    statement = await _statement(server, bill)
    assert (statement["collected_fen"], statement["outstanding_fen"]) == (bill.cash_fen, 0)
    assert [p["status"] for p in statement["payments"]] == ["succeeded"]
    assert await _refunds(server.db, bill) == []


async def test_two_payments_of_one_bill_succeeding_at_once_refund_the_second_once(
    server: Server,
) -> None:
    bill = await _bill(server)
    # The patient paid in the mini-program and again at the door: two orders, both paid.
    first, second = await _pay_online(server, bill), await _pay_online(server, bill)
    notifications = [
        server.wechatpay.paid(first["receipt_no"], bill.cash_fen, "4200000201"),
        server.wechatpay.paid(second["receipt_no"], bill.cash_fen, "4200000202"),
    ]
    statuses = await asyncio.gather(
        *(_deliver(server, n) for n in notifications for _ in range(CONCURRENT // 2))
    )
    assert statuses == [204] * CONCURRENT
    for payment in (first, second):
        assert await _bookings(server.db, payment["id"], "payment") == 1
    (refund,) = await _refunds(server.db, bill)
    assert refund.amount_fen == bill.cash_fen and refund.reason == "overpaid"
    queued = count_of(
        OutboxMessage,
        OutboxMessage.kind == PAYMENT_REFUND,
        OutboxMessage.idempotency_key == f"refund:{refund.out_refund_no}",
    )
    assert await server.db.scalar(queued) == 1
    statement = await _statement(server, bill)
    assert (statement["collected_fen"], statement["outstanding_fen"]) == (bill.cash_fen, 0)


async def test_refund_overtaking_the_success_redelivery_and_stale_states_change_nothing(
    server: Server,
) -> None:
    bill = await _bill(server)
    payment = await _pay_online(server, bill)
    # Meanwhile the courier took cash at the door: the online payment will be one too many.
    cash = {"method": "cash", "amount_fen": bill.cash_fen, "collection_id": str(uuid.uuid4())}
    handed = await server.http.post(
        f"/api/v1/payments/settlements/{bill.settlement_id}/hand-over",
        json=cash,
        headers=server.courier,
    )
    assert handed.status_code == 201, handed.text
    out_trade_no = payment["receipt_no"]
    success = server.wechatpay.paid(out_trade_no, bill.cash_fen, "4200000301")
    # Applied, but WeChat never hears the answer (it will deliver the success again later).
    assert await _deliver(server, success) == 204
    (refund,) = await _refunds(server.db, bill)
    # The relay asks WeChat Pay for the refund ...
    await wait_until(
        lambda: any(
            kind == "refund" and body["out_refund_no"] == refund.out_refund_no
            for kind, body in server.wechatpay.received
        ),
        within=20,
        what="the refund request at WeChat Pay",
    )
    # ... whose notification arrives (twice) before the success is delivered again.
    refunded = server.wechatpay.refunded(
        out_trade_no, refund.out_refund_no, bill.cash_fen, bill.cash_fen
    )
    assert await asyncio.gather(_deliver(server, refunded), _deliver(server, refunded)) == [
        204,
        204,
    ]
    # Now the older news: the success again, then a close generated before the payment.
    assert await _deliver(server, success) == 204
    closed = server.wechatpay.paid(out_trade_no, bill.cash_fen, "4200000301", state="CLOSED")
    assert await _deliver(server, closed) == 204

    assert await _bookings(server.db, payment["id"], "payment") == 1
    assert await _bookings(server.db, payment["id"], "refund") == 1
    (after,) = await _refunds(server.db, bill)
    assert (after.id, after.status) == (refund.id, "succeeded")
    statement = await _statement(server, bill)
    assert {p["method"]: p["status"] for p in statement["payments"]} == {
        "cash": "succeeded",
        "wechat": "succeeded",
    }
    # Cash kept, the online payment given back: the bill is paid exactly once.
    assert (statement["collected_fen"], statement["outstanding_fen"]) == (bill.cash_fen, 0)
