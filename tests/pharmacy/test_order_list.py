"""The store's order list as the board reads it: pages through every order, narrowed by state,
the city days the orders were placed on, courier and a search over what the store may see; each
order carries its destination (coarse for the store), its cold-chain log and what the courier
collects at the door; the store's own name and point come from GET /pharmacy/store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.models import PharmacyOrder, Role
from app.pharmacy.delivery import geo
from tests.delivery.flows import cold_order
from tests.fixtures import factories
from tests.prescription.world import (
    World,
    approved,
    dispatched,
    item,
    ok,
    ordered,
    rx_body,
    store_staff,
)

ORDERS = "/api/v1/orders"


async def _ids(client: httpx.AsyncClient, world: World, **params: Any) -> list[str]:
    """Ids of every order the pharmacist's list gives for `params`, following `next`."""
    ids: list[str] = []
    query = {"limit": 1, **params}
    while True:
        page = await ok(await client.get(ORDERS, params=query, headers=world.as_("pharmacist")))
        ids += [order["id"] for order in page["items"]]
        if page["next"] is None:
            return ids
        query["cursor"] = page["next"]


async def _placed_at(db_session: AsyncSession, order_id: str, moment: datetime) -> None:
    row = await db_session.get(PharmacyOrder, uuid.UUID(order_id))
    assert row is not None
    row.created_at = moment
    await db_session.flush()


async def test_pages_reach_every_order_and_each_filter_narrows_them(
    client, world: World, db_session
) -> None:
    # Three drugs of three classes: a second prescription of one class would duplicate therapy.
    old = await dispatched(client, world, await ordered(client, world))
    middle = await ordered(client, world, rx_body(world, item(world.drugs.acarbose)))
    new = await cold_order(client, world)
    # Placed on three city days; 23:30 in Shanghai on 5 December is 15:30 UTC that day, and
    # 00:30 on 7 December is still 6 December in UTC.
    await _placed_at(db_session, old["id"], datetime(2026, 12, 5, 15, 30, tzinfo=UTC))
    await _placed_at(db_session, middle["id"], datetime(2026, 12, 5, 16, 30, tzinfo=UTC))
    await _placed_at(db_session, new["id"], datetime(2026, 12, 6, 16, 30, tzinfo=UTC))

    assert await _ids(client, world) == [new["id"], middle["id"], old["id"]]
    assert await _ids(client, world, status="dispatched") == [old["id"]]
    assert await _ids(client, world, status=["created", "dispatched"]) == [
        new["id"], middle["id"], old["id"],
    ]  # fmt: skip
    assert await _ids(client, world, created_from="2026-12-06", created_to="2026-12-06") == [
        middle["id"]
    ]
    assert await _ids(client, world, created_to="2026-12-05") == [old["id"]]
    assert await _ids(client, world, created_from="2026-12-07") == [new["id"]]
    courier = str(world.courier_account.id)
    assert await _ids(client, world, courier=courier) == [old["id"]]
    assert await _ids(client, world, courier=str(uuid.uuid4())) == []


async def test_search_matches_an_order_id_prefix_or_the_patient_name_only(
    client, world: World, db_session
) -> None:
    first = await ordered(client, world)
    second = await ordered(client, world, rx_body(world, item(world.drugs.acarbose)))
    both = {first["id"], second["id"]}
    assert await _ids(client, world, q=first["id"][:8]) == [first["id"]]
    # With the dashes as PostgreSQL prints an id, or in capitals: the same order.
    assert await _ids(client, world, q=first["id"][:13].upper()) == [first["id"]]
    world.patient.name = "王秀兰"
    await db_session.flush()
    assert set(await _ids(client, world, q="秀兰")) == both
    assert await _ids(client, world, q="李") == []
    # A LIKE wildcard is a character to find, not a pattern.
    assert await _ids(client, world, q="%") == []
    # The address is masked for the store, so it is not searched either.
    assert await _ids(client, world, q="南大街") == []


async def test_a_reversed_day_range_is_refused_in_chinese_by_default(client, world: World) -> None:
    params = {"created_from": "2026-12-07", "created_to": "2026-12-06"}
    response = await client.get(ORDERS, params=params, headers=world.as_("pharmacist"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "created_range_reversed"
    assert response.json()["detail"] == "开始日期不能晚于结束日期"
    english = await client.get(
        ORDERS, params=params, headers={**world.as_("pharmacist"), "Accept-Language": "en"}
    )
    assert english.json()["detail"] == "The first day falls after the last day"


async def test_the_store_sees_a_coarse_destination_and_the_patient_the_exact_one(
    client, world: World
) -> None:
    prescription_id = await approved(client, world)
    body = {
        "prescription_id": prescription_id,
        "store_id": str(world.store.id),
        "destination": {"lat": 37.861234, "lng": 113.578912},
    }
    order = await ok(
        await client.post(
            ORDERS, json=body, headers={**world.as_("patient"), "Idempotency-Key": "exact-spot"}
        ),
        201,
    )
    assert order["destination"] == {"lat": 37.861234, "lng": 113.578912}
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("pharmacist")))
    assert view["destination"] == {"lat": 37.86, "lng": 113.58}
    # Without a shared point the order goes to the district's centre.
    plain = await ordered(client, world, rx_body(world, item(world.drugs.acarbose)))
    assert (plain["destination"]["lat"], plain["destination"]["lng"]) == geo.centre_of(
        plain["district_code"]
    )


async def test_an_order_says_what_the_courier_collects_at_the_door(client, world: World) -> None:
    order = await ordered(client, world)
    collect = order["collect"]
    assert collect is not None and collect["pay_from_personal_account"] is False
    assert collect["account_fen"] == 0
    assert collect["fund_fen"] + collect["cash_fen"] == order["total_fen"]
    assert collect["cash_fen"] > 0


async def test_a_cold_chain_order_carries_its_temperature_log_with_the_excursion(
    client, world: World
) -> None:
    order = await cold_order(client, world)
    assert order["cold_chain_log"] == []
    await dispatched(client, world, order, seal_id="SEAL-0042")
    now = utcnow().replace(microsecond=0)
    readings = [
        {"measured_at": (now - timedelta(minutes=20)).isoformat(), "celsius": "4.5"},
        {"measured_at": (now - timedelta(minutes=10)).isoformat(), "celsius": "9.3"},
    ]
    await ok(
        await client.post(
            f"{ORDERS}/{order['id']}/temperatures",
            json={"seal_id": "SEAL-0042", "readings": readings},
            headers=world.as_("courier"),
        )
    )
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("pharmacist")))
    assert [(r["celsius"], r["in_range"], r["late"]) for r in view["cold_chain_log"]] == [
        (4.5, True, False), (9.3, False, False),
    ]  # fmt: skip
    assert datetime.fromisoformat(view["cold_chain_log"][0]["measured_at"]) == now - timedelta(
        minutes=20
    )


async def test_my_store_names_the_store_and_places_it_in_its_district(client, world: World) -> None:
    for who in ("pharmacist", "courier"):
        mine = await ok(await client.get("/api/v1/pharmacy/store", headers=world.as_(who)))
        assert mine["id"] == str(world.store.id)
        assert mine["name_zh"] == "国康大药房（北大街店）"
        assert mine["district_code"] == world.store.district_code
        lat, lng = geo.centre_of(world.store.district_code)
        assert mine["location"] == {"lat": lat, "lng": lng}
    response = await client.get("/api/v1/pharmacy/store", headers=world.as_("patient"))
    assert response.status_code == 403
    # The hospital's reviewing pharmacist is on no store's staff: no store.
    response = await client.get("/api/v1/pharmacy/store", headers=world.as_("reviewer"))
    assert response.status_code == 403 and response.json()["code"] == "not_store_staff"


async def test_staff_of_another_store_find_none_of_these_orders(
    client, world: World, db_session, settings
) -> None:
    order = await ordered(client, world)
    elsewhere = await factories.store(db_session)
    stranger = await store_staff(db_session, elsewhere, Role.pharmacist)
    headers = await factories.bearer(db_session, settings, stranger)
    page = await ok(await client.get(ORDERS, params={"q": order["id"][:8]}, headers=headers))
    assert page["items"] == []
