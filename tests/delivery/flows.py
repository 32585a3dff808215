"""Walking an order past hand-over: through the services of the app in this process, else over
the API (see tests/prescription/world.py). The steps tests here build on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.models import PharmacyOrder
from app.pharmacy.delivery import service as delivery_service
from app.pharmacy.delivery import tracking
from app.pharmacy.delivery.schemas import StepIn
from app.pharmacy.delivery.states import Actor
from tests.prescription.world import (
    World,
    dispatch_in,
    dispatched,
    in_app,
    item,
    ok,
    order_view,
    ordered,
    pick_in,
    picked,
    principal_of,
    rx_body,
)

ORDERS = "/api/v1/orders"


async def handover_code(client: httpx.AsyncClient, world: World, order: dict[str, Any]) -> str:
    """The one-time code the patient's app shows."""
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("patient")))
    code = view["handover_code"]
    assert code is not None
    return str(code)


def _handing_over(order: dict[str, Any]) -> str:
    """Who hands the order over (and closes it): the counter for pickup, else the courier."""
    return "pharmacist" if order["fulfilment"] == "pickup" else "courier"


async def _deliver(
    session: AsyncSession, app: FastAPI, world: World, order: dict[str, Any], seal_id: str | None
) -> tuple[PharmacyOrder, Actor]:
    """Hand the order over with the code the patient was given; the row and who did it."""
    hub, settings = app.state.hub, app.state.settings
    actor = Actor.of(await principal_of(session, app, world, _handing_over(order)))
    if order["fulfilment"] == "pickup":
        row = await pick_in(session, app, world, order)
    else:
        row = await dispatch_in(session, app, world, order, seal_id)
        if row.cold_chain:
            reading = tracking.Reading(utcnow(), Decimal("5.0"))
            await tracking.log_temperatures(session, hub, settings, row, actor, [reading], None)
    assert row.handover_code is not None
    await delivery_service.hand_over(
        session, hub, settings, row, actor, row.handover_code, seal_id, StepIn().to_place()
    )
    return row, actor


async def delivered(
    client: httpx.AsyncClient, world: World, order: dict[str, Any], seal_id: str | None = None
) -> dict[str, Any]:
    """Hand the order over: at the counter (pickup) or by the world's courier (delivery; a
    cold-chain parcel first gets a clean reading). The view of whoever handed it over."""
    if world.app is not None:
        async with in_app(world.app) as session:
            row, _ = await _deliver(session, world.app, world, order, seal_id)
            return await order_view(session, world.app, world, _handing_over(order), row)
    url = f"{ORDERS}/{order['id']}"
    if order["fulfilment"] == "pickup":
        await picked(client, world, order)
        code = await handover_code(client, world, order)
        return await ok(
            await client.post(
                f"{url}/handover", json={"code": code}, headers=world.as_("pharmacist")
            )
        )
    await dispatched(client, world, order, seal_id=seal_id)
    if order["cold_chain"]:
        reading = {"measured_at": utcnow().isoformat(), "celsius": "5.0"}
        await ok(
            await client.post(
                f"{url}/temperatures", json={"readings": [reading]}, headers=world.as_("courier")
            )
        )
    code = await handover_code(client, world, order)
    return await ok(
        await client.post(
            f"{url}/handover",
            json={"code": code, "seal_id": seal_id},
            headers=world.as_("courier"),
        )
    )


async def completed(
    client: httpx.AsyncClient, world: World, order: dict[str, Any], seal_id: str | None = None
) -> dict[str, Any]:
    """Hand the order over and close it."""
    who = _handing_over(order)
    if world.app is not None:
        async with in_app(world.app) as session:
            row, actor = await _deliver(session, world.app, world, order, seal_id)
            await delivery_service.complete(
                session, world.app.state.hub, row, actor, StepIn().to_place()
            )
            return await order_view(session, world.app, world, who, row)
    await delivered(client, world, order, seal_id)
    return await ok(await client.post(f"{ORDERS}/{order['id']}/complete", headers=world.as_(who)))


async def cold_order(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """An order of insulin glargine (cold chain, one pack)."""
    order = await ordered(client, world, rx_body(world, item(world.drugs.glargine, "20", "qd", 7)))
    assert order["cold_chain"]
    return order
