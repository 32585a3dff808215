"""Refunds stay pending until the money is back: courier hand-back of cash, the provider's word
for online payments; failures are shown, told to people and retried."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict
from app.insurance import settlement as settlement_service
from app.models import OutboxMessage, PaymentRefund, PharmacyStaff, Role
from app.payment.refunds import follow_up, refund_request_key
from app.payment.states import REFUND_TRANSITIONS, RefundStatus, check_move
from tests.fixtures import factories
from tests.payment.flows import collected, paid_online_then_reversed

REFUNDS = "/api/v1/payments/refunds"


async def _cash_then_reversed(client, db_session, delivery) -> PaymentRefund:
    body = {"method": "cash", "amount_fen": 16_000, "collection_id": str(uuid.uuid4())}
    paid = await client.post(
        f"/api/v1/payments/settlements/{delivery.settlement.id}/hand-over",
        json=body,
        headers=delivery.courier_headers,
    )
    assert paid.status_code == 201, paid.text
    await settlement_service.reverse(
        db_session, delivery.settlement.id, "cold chain", uuid.uuid4().hex
    )
    refund = await db_session.scalar(
        select(PaymentRefund).where(PaymentRefund.payment_id == uuid.UUID(paid.json()["id"]))
    )
    assert refund is not None
    return refund


async def test_a_cash_refund_is_pending_until_the_courier_hands_the_cash_back(
    client, db_session, delivery
) -> None:
    refund = await _cash_then_reversed(client, db_session, delivery)
    assert (refund.status, refund.succeeded_at) == ("requested", None)
    assert await collected(db_session, delivery) == 16_000  # the cash is still with us
    listed = await client.get(REFUNDS, headers=delivery.courier_headers)
    assert [r["id"] for r in listed.json()["items"]] == [str(refund.id)]
    handed = await client.post(f"{REFUNDS}/{refund.id}/hand-back", headers=delivery.courier_headers)
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "succeeded"
    assert await collected(db_session, delivery) == 0
    again = await client.post(f"{REFUNDS}/{refund.id}/hand-back", headers=delivery.courier_headers)
    assert again.status_code == 200
    assert await collected(db_session, delivery) == 0  # booked once
    bill = await client.get(
        f"/api/v1/payments/settlements/{delivery.settlement.id}/bill",
        headers=delivery.patient_headers,
    )
    assert bill.json()["refunds"][0]["status"] == "succeeded"
    assert bill.json()["payments"][0]["refunded_fen"] == 16_000


async def test_only_the_stores_staff_record_a_hand_back(
    client, db_session, settings, delivery
) -> None:
    refund = await _cash_then_reversed(client, db_session, delivery)
    stranger = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.courier)
    )
    url = f"{REFUNDS}/{refund.id}/hand-back"
    assert (await client.post(url, headers=stranger)).status_code == 404
    assert (await client.post(url, headers=delivery.patient_headers)).status_code == 403
    for role in (Role.bureau, Role.doctor, Role.admin):
        headers = await factories.bearer(
            db_session, settings, await factories.account(db_session, role)
        )
        assert (await client.post(url, headers=headers)).status_code == 403
    await db_session.refresh(refund)
    assert refund.status == "requested"


async def test_an_online_refund_cannot_be_recorded_as_handed_back(
    client, db_session, providers, fake_wechatpay, delivery
) -> None:
    refund = await paid_online_then_reversed(client, db_session, fake_wechatpay, delivery)
    response = await client.post(
        f"{REFUNDS}/{refund.id}/hand-back", headers=delivery.courier_headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "refund_not_by_hand"


def test_the_state_machine_refuses_what_it_does_not_declare() -> None:
    for current, targets in REFUND_TRANSITIONS.items():
        for target in RefundStatus:
            if target in targets:
                check_move(current, target)
            else:
                with pytest.raises(Conflict) as caught:
                    check_move(current, target)
                assert caught.value.code == "refund_transition_illegal"
    assert REFUND_TRANSITIONS[RefundStatus.succeeded] == frozenset()


async def _failed_online_refund(
    client, db_session, providers, fake_wechatpay, delivery, outbox_status: str = "dead"
):
    refund = await paid_online_then_reversed(client, db_session, fake_wechatpay, delivery)
    message = await db_session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.idempotency_key == refund_request_key(refund.out_refund_no)
        )
    )
    # The outbox gave up on the request (WeChat Pay refused it), or delivered it, and WeChat
    # knows no such refund.
    message.status = outbox_status
    message.last_error = "HTTP 400 NOT_ENOUGH" if outbox_status == "dead" else None
    await db_session.flush()
    return refund


@pytest.mark.parametrize(
    ("outbox_status", "reason"),
    [("dead", "request refused: HTTP 400"), ("sent", "the provider has no such refund")],
)
async def test_a_refund_the_provider_never_took_fails_after_the_follow_up_query(
    client,
    db_session,
    providers,
    fake_wechatpay,
    delivery,
    settings,
    sessionmaker,
    outbox_status: str,
    reason: str,
) -> None:
    refund = await _failed_online_refund(
        client, db_session, providers, fake_wechatpay, delivery, outbox_status
    )
    await follow_up(sessionmaker, providers, settings, refund.created_at)
    await db_session.refresh(refund)
    assert (refund.status, refund.checked_at) == ("requested", None)  # too soon to ask
    later = refund.created_at + timedelta(seconds=settings.payment_refund_query_after_seconds)
    report = await follow_up(sessionmaker, providers, settings, later)
    assert report.checked >= 1 and report.changed >= 1
    await db_session.refresh(refund)
    assert refund.status == "failed"
    assert refund.failure_reason.startswith(reason)
    failed = await client.get(f"{REFUNDS}?status=failed", headers=delivery.courier_headers)
    assert [r["id"] for r in failed.json()["items"]] == [str(refund.id)]
    assert await collected(db_session, delivery) == 16_000  # nothing was given back


async def test_a_failed_refund_is_retried_once_by_a_pharmacist(
    client, db_session, settings, providers, fake_wechatpay, delivery, sessionmaker
) -> None:
    refund = await _failed_online_refund(client, db_session, providers, fake_wechatpay, delivery)
    later = refund.created_at + timedelta(seconds=settings.payment_refund_query_after_seconds)
    await follow_up(sessionmaker, providers, settings, later)
    pharmacist = await factories.account(db_session, Role.pharmacist)
    staff = await db_session.scalar(
        select(PharmacyStaff).where(PharmacyStaff.account_id == pharmacist.id)
    )
    staff.store_id = delivery.world.store.id
    await db_session.flush()
    headers = await factories.bearer(db_session, settings, pharmacist)
    url = f"{REFUNDS}/{refund.id}/retry"
    assert (await client.post(url, headers=delivery.courier_headers)).status_code == 403
    first = await client.post(url, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["retry_of_id"] == str(refund.id)
    assert first.json()["status"] == "requested"
    again = await client.post(url, headers=headers)
    assert again.json()["id"] == first.json()["id"]
    not_failed = await client.post(f"{REFUNDS}/{first.json()['id']}/retry", headers=headers)
    assert not_failed.status_code == 409
    assert not_failed.json()["code"] == "refund_not_failed"
    queued = await db_session.scalar(
        select(func.count()).where(
            OutboxMessage.idempotency_key.like("refund:%"), OutboxMessage.status == "pending"
        )
    )
    assert queued == 1  # the retry's request to WeChat Pay


async def _overdue_notices(db_session, refund: PaymentRefund) -> list[str]:
    rows = await db_session.scalars(
        select(OutboxMessage.idempotency_key).where(
            OutboxMessage.idempotency_key.like(f"refund_overdue:{refund.id}:%")
        )
    )
    return list(rows)


async def test_a_cash_refund_not_handed_back_in_time_is_escalated_once(
    client, db_session, settings, providers, delivery, sessionmaker
) -> None:
    refund = await _cash_then_reversed(client, db_session, delivery)
    admin = await factories.account(db_session, Role.admin)
    late = refund.created_at + timedelta(hours=settings.payment_refund_hand_back_hours)
    await follow_up(sessionmaker, providers, settings, late - timedelta(minutes=1))
    assert await _overdue_notices(db_session, refund) == []  # not yet
    for _ in range(2):
        report = await follow_up(sessionmaker, providers, settings, late)
        assert report.escalated >= 1
    notices = await _overdue_notices(db_session, refund)
    assert f"refund_overdue:{refund.id}:{admin.id}" in notices
    assert len(notices) == len(set(notices))  # once per person, however often the job runs
