"""Walking an order past hand-over through the API (the steps tests here build on)."""

from __future__ import annotations

from typing import Any

import httpx

from app.kit.clock import utcnow
from tests.prescription.world import World, dispatched, item, ok, ordered, picked, rx_body

ORDERS = "/api/v1/orders"


async def handover_code(client: httpx.AsyncClient, world: World, order: dict[str, Any]) -> str:
    """The one-time code the patient's app shows."""
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("patient")))
    code = view["handover_code"]
    assert code is not None
    return str(code)


async def delivered(
    client: httpx.AsyncClient, world: World, order: dict[str, Any], seal_id: str | None = None
) -> dict[str, Any]:
    """Hand the order over: at the counter (pickup) or by the world's courier (delivery; a
    cold-chain parcel first gets a clean reading)."""
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
    await delivered(client, world, order, seal_id)
    who = "pharmacist" if order["fulfilment"] == "pickup" else "courier"
    return await ok(await client.post(f"{ORDERS}/{order['id']}/complete", headers=world.as_(who)))


async def cold_order(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """An order of insulin glargine (cold chain, one pack)."""
    order = await ordered(client, world, rx_body(world, item(world.drugs.glargine, "20", "qd", 7)))
    assert order["cold_chain"]
    return order
