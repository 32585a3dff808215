"""Races on stock, traceability codes, order states, hand-over settlement, collections and
refunds - N identical requests at once against a real server on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.models import (
    ColdChainReading,
    DeliveryLocation,
    DispensedBox,
    LedgerEntry,
    OrderTransition,
    Payment,
    PaymentRefund,
    PharmacyOrder,
    PharmacyStock,
    Settlement,
)
from tests.fixtures.races import RACERS, RaceServer, race, race_all
from tests.prescription.world import (
    World,
    approved,
    build,
    dispatched,
    item,
    ok,
    ordered,
    picked,
    rx_body,
    trace_code,
)
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres

ORDERS = "/api/v1/orders"
PACKS = 50


async def _world(server: RaceServer) -> World:
    async def build_world(session: AsyncSession) -> World:
        return await build(session, server.settings, packs=PACKS)

    return await committed(server, build_world)


async def _stock(server: RaceServer, world: World) -> int:
    return int(
        await server.scalar(
            select(PharmacyStock.quantity).where(
                PharmacyStock.store_id == world.store.id,
                PharmacyStock.drug_id == world.drugs.metformin.id,
            )
        )
    )


def _order_body(world: World, prescription_id: str) -> dict[str, str]:
    return {"prescription_id": prescription_id, "store_id": str(world.store.id)}


async def _delivered(server: RaceServer, world: World) -> dict[str, Any]:
    http = server.http
    order = await ordered(http, world)
    await dispatched(http, world, order)
    url = f"{ORDERS}/{order['id']}"
    code = (await ok(await http.get(url, headers=world.as_("patient"))))["handover_code"]
    await ok(await http.post(f"{url}/handover", json={"code": code}, headers=world.as_("courier")))
    return order


async def _settlement_of(server: RaceServer, order: dict[str, Any]) -> Settlement:
    async with server.sessionmaker() as session:
        row = await session.scalar(
            select(Settlement).where(
                Settlement.order_id == uuid.UUID(order["id"]), Settlement.kind == "settlement"
            )
        )
    assert row is not None
    return row


async def test_one_key_ordered_at_once_reserves_the_stock_once(server: RaceServer) -> None:
    world = await _world(server)
    prescription_id = await approved(server.http, world)
    headers = {**world.as_("patient"), "Idempotency-Key": f"order-{uuid.uuid4().hex}"}
    result = await race(
        server.http, "POST", ORDERS, json=_order_body(world, prescription_id), headers=headers
    )
    result.all_replay()
    orders = await server.count(
        PharmacyOrder, PharmacyOrder.prescription_id == uuid.UUID(prescription_id)
    )
    assert orders == 1
    assert await _stock(server, world) == PACKS - 1


async def test_one_prescription_ordered_under_many_keys_makes_one_order(
    server: RaceServer,
) -> None:
    world = await _world(server)
    prescription_id = await approved(server.http, world)
    requests = [
        (
            "POST",
            ORDERS,
            {
                "json": _order_body(world, prescription_id),
                "headers": {**world.as_("patient"), "Idempotency-Key": f"o{n}-{uuid.uuid4().hex}"},
            },
        )
        for n in range(RACERS)
    ]  # fmt: skip
    (await race_all(server.http, requests)).one_winner()
    assert await _stock(server, world) == PACKS - 1


async def test_concurrent_accepts_accept_once(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(server.http, world)
    url = f"{ORDERS}/{order['id']}/accept"
    (await race(server.http, "POST", url, headers=world.as_("pharmacist"))).one_winner()
    moves = await server.count(
        OrderTransition,
        OrderTransition.order_id == uuid.UUID(order["id"]),
        OrderTransition.to_status == "accepted",
    )
    assert moves == 1


async def test_a_retried_accept_with_its_key_replays(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(server.http, world)
    headers = {**world.as_("pharmacist"), "Idempotency-Key": f"accept-{uuid.uuid4().hex}"}
    result = await race(server.http, "POST", f"{ORDERS}/{order['id']}/accept", headers=headers)
    result.all_replay()


async def test_one_box_scanned_at_once_is_sold_once(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(server.http, world)
    await ok(
        await server.http.post(f"{ORDERS}/{order['id']}/accept", headers=world.as_("pharmacist"))
    )
    code = trace_code()
    body = {"boxes": [{"drug_id": order["lines"][0]["drug_id"], "code": code}]}
    result = await race(
        server.http,
        "POST",
        f"{ORDERS}/{order['id']}/scans",
        json=body,
        headers=world.as_("pharmacist"),
    )
    result.no_server_errors()
    outcomes = sorted(r.json()["items"][0]["outcome"] for r in result.responses)
    assert outcomes == ["accepted"] + ["duplicate"] * (RACERS - 1)
    assert await server.count(DispensedBox, DispensedBox.code == code) == 1


async def test_concurrent_picks_and_dispatches_move_once(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(server.http, world)
    url = f"{ORDERS}/{order['id']}"
    staff = world.as_("pharmacist")
    await ok(await server.http.post(f"{url}/accept", headers=staff))
    box = {"drug_id": order["lines"][0]["drug_id"], "code": trace_code()}
    await ok(await server.http.post(f"{url}/scans", json={"boxes": [box]}, headers=staff))
    (await race(server.http, "POST", f"{url}/pick", headers=staff)).one_winner()
    body = {"courier_account_id": str(world.courier_account.id)}
    (await race(server.http, "POST", f"{url}/dispatch", json=body, headers=staff)).one_winner()


async def test_concurrent_hand_overs_settle_once(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(server.http, world)
    await dispatched(server.http, world, order)
    url = f"{ORDERS}/{order['id']}"
    code = (await ok(await server.http.get(url, headers=world.as_("patient"))))["handover_code"]
    result = await race(
        server.http, "POST", f"{url}/handover", json={"code": code}, headers=world.as_("courier")
    )
    result.one_winner()
    settlements = await server.count(Settlement, Settlement.order_id == uuid.UUID(order["id"]))
    assert settlements == 1


async def test_concurrent_completions_complete_once(server: RaceServer) -> None:
    world = await _world(server)
    order = await _delivered(server, world)
    url = f"{ORDERS}/{order['id']}/complete"
    (await race(server.http, "POST", url, headers=world.as_("courier"))).one_winner()


async def test_one_collection_recorded_at_once_is_booked_once(server: RaceServer) -> None:
    world = await _world(server)
    settlement = await _settlement_of(server, await _delivered(server, world))
    body = {"method": "cash", "amount_fen": settlement.cash_fen, "collection_id": str(uuid.uuid4())}
    result = await race(
        server.http,
        "POST",
        f"/api/v1/payments/settlements/{settlement.id}/hand-over",
        json=body,
        headers=world.as_("courier"),
    )
    result.all_replay()
    bookings = await server.scalar(
        select(func.count(func.distinct(LedgerEntry.transaction_id))).where(
            LedgerEntry.settlement_id == settlement.id, LedgerEntry.kind == "payment"
        )
    )
    assert bookings == 1


async def test_the_whole_due_collected_twice_at_once_is_taken_once(server: RaceServer) -> None:
    world = await _world(server)
    settlement = await _settlement_of(server, await _delivered(server, world))
    url = f"/api/v1/payments/settlements/{settlement.id}/hand-over"
    requests = [
        (
            "POST",
            url,
            {
                "json": {"method": "cash", "amount_fen": settlement.cash_fen,
                         "collection_id": str(uuid.uuid4())},
                "headers": world.as_("courier"),
            },
        )
        for _ in range(RACERS)
    ]  # fmt: skip
    (await race_all(server.http, requests)).one_winner(
        "payment_exceeds_due", "settlement_not_payable"
    )
    assert await server.count(Payment, Payment.settlement_id == settlement.id) == 1


async def test_a_quality_return_completed_at_once_reverses_and_refunds_once(
    server: RaceServer,
) -> None:
    """After hand-over the sale is final; its way back is a quality return, and completing it
    from several devices at once reverses the settlement and refunds the cash exactly once."""
    world = await _world(server)
    order = await _delivered(server, world)
    settlement = await _settlement_of(server, order)
    collected = await server.http.post(
        f"/api/v1/payments/settlements/{settlement.id}/hand-over",
        json={
            "method": "cash",
            "amount_fen": settlement.cash_fen,
            "collection_id": str(uuid.uuid4()),
        },
        headers=world.as_("courier"),
    )
    assert collected.status_code == 201, collected.text
    url = f"{ORDERS}/{order['id']}"
    await ok(await server.http.post(f"{url}/complete", headers=world.as_("courier")))
    opened = await ok(
        await server.http.post(
            f"{url}/quality-returns",
            json={"reason": "药盒内铝箔破损，药片受潮变色"},
            headers=world.as_("patient"),
        ),
        201,
    )
    staff = world.as_("pharmacist")
    back = f"/api/v1/quality-returns/{opened['id']}"
    await ok(await server.http.post(f"{back}/accept", headers=staff))
    boxes = {"codes": opened["codes_sold"]}
    await ok(await server.http.post(f"{back}/boxes", json=boxes, headers=staff))
    result = await race(server.http, "POST", f"{back}/complete", headers=staff)
    result.one_winner()
    assert await server.count(Settlement, Settlement.reverses_id == settlement.id) == 1
    refunds = await server.count(
        PaymentRefund,
        PaymentRefund.payment_id.in_(
            select(Payment.id).where(Payment.settlement_id == settlement.id)
        ),
    )
    assert refunds == 1


async def test_the_way_back_moves_once(server: RaceServer) -> None:
    """A delivery that fails before hand-over: the failure, the return trip and the store's
    receipt each move once however many times they are sent."""
    world = await _world(server)
    order = await ordered(server.http, world)
    await dispatched(server.http, world, order)
    url = f"{ORDERS}/{order['id']}"
    courier = world.as_("courier")
    failed = await race(
        server.http, "POST", f"{url}/fail", json={"reason": "拒收"}, headers=courier
    )
    failed.one_winner()
    (await race(server.http, "POST", f"{url}/return", headers=courier)).one_winner()
    returned = await race(server.http, "POST", f"{url}/returned", headers=world.as_("pharmacist"))
    returned.one_winner()
    moves = await server.count(
        OrderTransition,
        OrderTransition.order_id == uuid.UUID(order["id"]),
        OrderTransition.to_status.in_(("delivery_failed", "returning", "returned")),
    )
    assert moves == 3


async def test_concurrent_cancellations_return_the_stock_once(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(server.http, world)
    assert await _stock(server, world) == PACKS - 1
    result = await race(
        server.http,
        "POST",
        f"{ORDERS}/{order['id']}/cancel",
        json={"reason": "改为到医院取药"},
        headers=world.as_("patient"),
    )
    result.one_winner()
    assert await _stock(server, world) == PACKS


async def test_one_position_sent_at_once_is_recorded_once(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(server.http, world)
    await dispatched(server.http, world, order)
    headers = {**world.as_("courier"), "Idempotency-Key": f"pos-{uuid.uuid4().hex}"}
    result = await race(
        server.http,
        "POST",
        f"{ORDERS}/{order['id']}/location",
        json={"lat": 37.86, "lng": 113.58},
        headers=headers,
    )
    result.no_server_errors()
    assert sorted(r.json()["recorded"] for r in result.responses) == [False] * (RACERS - 1) + [True]
    rows = await server.count(DeliveryLocation, DeliveryLocation.order_id == uuid.UUID(order["id"]))
    assert rows == 1


async def test_one_temperature_log_sent_at_once_is_stored_once(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(
        server.http, world, rx_body(world, item(world.drugs.glargine, "20", "qd"))
    )
    await dispatched(server.http, world, order, seal_id="SEAL-0001")
    now = utcnow()
    body = {
        "seal_id": "SEAL-0001",
        "readings": [
            {"measured_at": (now - timedelta(minutes=m)).isoformat(), "celsius": "5.0"}
            for m in (10, 5)
        ],
    }
    result = await race(
        server.http,
        "POST",
        f"{ORDERS}/{order['id']}/temperatures",
        json=body,
        headers=world.as_("courier"),
    )
    result.no_server_errors()
    assert sum(r.json()["recorded"] for r in result.responses) == 2
    rows = await server.count(ColdChainReading, ColdChainReading.order_id == uuid.UUID(order["id"]))
    assert rows == 2


async def test_picking_is_not_needed_twice(server: RaceServer) -> None:
    world = await _world(server)
    order = await ordered(server.http, world)
    await picked(server.http, world, order)
    result = await race(
        server.http, "POST", f"{ORDERS}/{order['id']}/pick", headers=world.as_("pharmacist")
    )
    result.no_server_errors()
    assert {r.status_code for r in result.responses} == {409}
