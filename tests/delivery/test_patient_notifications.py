"""What the patient hears of their order through push notifications: dispatched with its ETA,
ready for pickup, delivery failed - never the hand-over code itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.kit.clock import utcnow
from app.models import OutboxMessage
from tests.delivery.flows import ORDERS, cold_order, handover_code
from tests.prescription.world import World, dispatched, ok, ordered, picked


async def _pushes(db_session, order: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = await db_session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.kind == "push.notification",
            OutboxMessage.idempotency_key.like(f"%:{order['id']}:%"),
        )
    )
    return {row.payload["template"]: row.payload for row in rows}


async def test_a_dispatched_order_tells_the_patient_its_eta(
    client, world: World, db_session
) -> None:
    order = await ordered(client, world)
    await dispatched(client, world, order)
    pushes = await _pushes(db_session, order)
    assert set(pushes) == {"order_dispatched"}
    push = pushes["order_dispatched"]
    assert push["recipient"] == str(world.patient_account.id)
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("patient")))
    assert view["eta_at"] is not None
    eta = datetime.fromisoformat(push["data"]["eta"])
    assert eta == datetime.fromisoformat(view["eta_at"])
    assert push["page"] == f"pages/orders/detail?id={order['id']}"
    assert await handover_code(client, world, order) not in str(push)


async def test_a_pickup_order_tells_the_patient_it_is_ready(
    client, world: World, db_session
) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    await picked(client, world, order)
    push = (await _pushes(db_session, order))["handover_code"]
    assert push["data"]["order_no"] == order["id"].replace("-", "")
    assert await handover_code(client, world, order) not in str(push)


async def test_a_failed_delivery_tells_the_patient(client, world: World, db_session) -> None:
    order = await cold_order(client, world)
    await dispatched(client, world, order, seal_id="SEAL-0001")
    excursion = {"measured_at": utcnow().isoformat(), "celsius": "9.3"}
    await ok(
        await client.post(
            f"{ORDERS}/{order['id']}/temperatures",
            json={"seal_id": "SEAL-0001", "readings": [excursion]},
            headers=world.as_("courier"),
        )
    )
    pushes = await _pushes(db_session, order)
    assert set(pushes) == {"order_dispatched", "delivery_failed"}
    assert pushes["delivery_failed"]["data"]["reason"]
