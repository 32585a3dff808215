"""Telemetry that arrives after hand-over, or from the future, changes nothing: the sale stands,
the settlement is not reversed and nobody is refunded. An excursion in transit still fails the
delivery. Positions after hand-over are refused, stored nowhere and pushed to nobody."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import func, select

from app.kit.clock import utcnow
from app.models import (
    ColdChainReading,
    DeliveryLocation,
    Payment,
    PaymentRefund,
    PharmacyOrder,
    Settlement,
)
from tests.delivery.flows import ORDERS, cold_order, delivered
from tests.prescription.world import World, dispatched, ok
from tests.realtime.recording import RecordingConnection

SEAL = "SEAL-7001"


async def _settlements(db_session, order_id: str) -> list[Settlement]:
    rows = await db_session.scalars(
        select(Settlement).where(Settlement.order_id == uuid.UUID(order_id))
    )
    return list(rows)


async def _status(db_session, order_id: str) -> str:
    row = await db_session.get(PharmacyOrder, uuid.UUID(order_id))
    assert row is not None
    await db_session.refresh(row)
    return row.status


async def _log(client, world: World, order_id: str, *readings: tuple[timedelta, str]) -> dict:
    now = utcnow()
    body = {
        "seal_id": SEAL,
        "readings": [
            {"measured_at": (now + offset).isoformat(), "celsius": celsius}
            for offset, celsius in readings
        ],
    }
    return await ok(
        await client.post(
            f"{ORDERS}/{order_id}/temperatures", json=body, headers=world.as_("courier")
        )
    )


async def test_a_warm_reading_after_hand_over_reverses_nothing(
    client, world: World, db_session
) -> None:
    # The finding: 12 C posted by the courier after hand-over, stamped 30 minutes ahead.
    order = await cold_order(client, world)
    await delivered(client, world, order, seal_id=SEAL)
    [settled] = await _settlements(db_session, order["id"])
    logged = await _log(
        client, world, order["id"], (timedelta(minutes=30), "12.0"), (timedelta(0), "12.0")
    )
    assert logged["status"] == "delivered" and not logged["excursion"]
    assert [(i["outcome"], i["reason"]) for i in logged["items"]] == [
        ("rejected", "measured_after_handover"),
        ("rejected", "measured_in_future"),
    ]
    assert logged["items"][1]["message"] == "温度记录时间晚于当前时间，未记录"
    assert logged["recorded"] == 0 and logged["rejected"] == 2
    assert await _status(db_session, order["id"]) == "delivered"
    assert [s.id for s in await _settlements(db_session, order["id"])] == [settled.id]
    refunds = select(PaymentRefund).join(Payment, Payment.id == PaymentRefund.payment_id)
    assert (
        await db_session.scalars(refunds.where(Payment.settlement_id == settled.id))
    ).all() == []
    stored = await db_session.scalar(
        select(func.count()).where(ColdChainReading.order_id == uuid.UUID(order["id"]))
    )
    assert stored == 1  # only the clean reading taken in transit
    done = await ok(
        await client.post(f"{ORDERS}/{order['id']}/complete", headers=world.as_("courier"))
    )
    assert done["status"] == "completed" and not done["late_cold_chain_excursion"]


async def test_a_transit_reading_received_after_hand_over_is_kept_as_late_evidence(
    client, world: World, db_session
) -> None:
    order = await cold_order(client, world)
    await delivered(client, world, order, seal_id=SEAL)
    logged = await _log(client, world, order["id"], (timedelta(minutes=-10), "12.0"))
    [item] = logged["items"]
    assert (item["outcome"], item["late"], item["in_range"]) == ("accepted", True, False)
    assert logged["status"] == "delivered" and not logged["excursion"]
    assert len(await _settlements(db_session, order["id"])) == 1
    # The store sees the evidence (and may open a quality return); the order can still close.
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("pharmacist")))
    assert view["late_cold_chain_excursion"] is True
    done = await ok(
        await client.post(f"{ORDERS}/{order['id']}/complete", headers=world.as_("courier"))
    )
    assert done["status"] == "completed"


async def test_a_reading_from_the_future_in_transit_is_refused_and_changes_nothing(
    client, world: World, db_session
) -> None:
    order = await cold_order(client, world)
    await dispatched(client, world, order, seal_id=SEAL)
    skew = timedelta(seconds=world.settings.cold_chain_clock_skew_seconds)
    logged = await _log(
        client, world, order["id"], (skew + timedelta(minutes=5), "12.0"), (timedelta(0), "5.0")
    )
    outcomes = [(i["outcome"], i["reason"]) for i in logged["items"]]
    assert outcomes == [("accepted", None), ("rejected", "measured_in_future")]
    assert logged["status"] == "dispatched" and not logged["excursion"]
    assert await _status(db_session, order["id"]) == "dispatched"


async def test_an_excursion_within_the_clock_skew_still_fails_the_delivery(
    client, world: World, db_session
) -> None:
    order = await cold_order(client, world)
    await dispatched(client, world, order, seal_id=SEAL)
    logged = await _log(client, world, order["id"], (timedelta(seconds=30), "9.1"))
    assert logged["excursion"] and logged["status"] == "returning"
    assert await _status(db_session, order["id"]) == "returning"


async def test_a_handed_over_order_cannot_be_failed_any_more(
    client, world: World, db_session
) -> None:
    order = await cold_order(client, world)
    await delivered(client, world, order, seal_id=SEAL)
    for who in ("courier", "pharmacist"):
        response = await client.post(
            f"{ORDERS}/{order['id']}/fail", json={"reason": "温度异常"}, headers=world.as_(who)
        )
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "illegal_transition"
    assert await _status(db_session, order["id"]) == "delivered"
    assert len(await _settlements(db_session, order["id"])) == 1


async def test_positions_after_hand_over_are_refused_stored_nowhere_and_pushed_to_nobody(
    client, world: World, db_session, app
) -> None:
    order = await cold_order(client, world)
    await dispatched(client, world, order, seal_id=SEAL)
    url = f"{ORDERS}/{order['id']}/location"
    before = {**world.as_("courier"), "Idempotency-Key": "pos-before"}
    await ok(await client.post(url, json={"lat": 37.86, "lng": 113.58}, headers=before))
    await delivered_now(client, world, order)
    patient_socket = RecordingConnection()
    await app.state.hub.register(world.patient_account.id, patient_socket)
    after = {**world.as_("courier"), "Idempotency-Key": "pos-after"}
    refused = await client.post(url, json={"lat": 37.90, "lng": 113.60}, headers=after)
    assert refused.status_code == 409 and refused.json()["code"] == "order_not_in_transit"
    # The phone retrying what it sent in transit is answered as the repeat it is.
    retry = await ok(await client.post(url, json={"lat": 37.86, "lng": 113.58}, headers=before))
    assert retry["recorded"] is False
    keys = (
        await db_session.scalars(
            select(DeliveryLocation.idempotency_key).where(
                DeliveryLocation.order_id == uuid.UUID(order["id"])
            )
        )
    ).all()
    assert keys == ["pos-before"]
    assert [e for e in patient_socket.events if e["type"] == "delivery.location"] == []
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("patient")))
    assert (view["last_lat"], view["last_lng"]) == (37.86, 113.58)


async def delivered_now(client, world: World, order: dict) -> None:
    """Hand over an already dispatched cold-chain parcel (clean log, intact seal)."""
    url = f"{ORDERS}/{order['id']}"
    await _log(client, world, order["id"], (timedelta(0), "5.0"))
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    await ok(
        await client.post(
            f"{url}/handover", json={"code": code, "seal_id": SEAL}, headers=world.as_("courier")
        )
    )
