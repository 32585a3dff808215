"""Store proposals by coverage and stock, the clear refusal outside every store's coverage, and
orders that reserve stock exactly once."""

from __future__ import annotations

import uuid

from app.models import PharmacyStock, Role
from tests.fixtures import factories
from tests.prescription.world import (
    PINGDING,
    UNCOVERED,
    World,
    approved,
    ok,
    stock,
    store_staff,
)


def _proposals_url(prescription_id: str) -> str:
    return f"/api/v1/prescriptions/{prescription_id}/store-proposals"


async def _order(client, world: World, prescription_id: str, store_id, key: str | None = None):
    return await client.post(
        "/api/v1/orders",
        json={"prescription_id": prescription_id, "store_id": str(store_id)},
        headers={**world.as_("patient"), "Idempotency-Key": key or f"k-{uuid.uuid4().hex}"},
    )


async def test_only_covering_stores_with_stock_are_proposed(client, world, db_session) -> None:
    covering_but_empty = await factories.store(db_session, covers=("140302",))
    elsewhere = await factories.store(db_session, covers=(PINGDING,))
    await stock(db_session, elsewhere, world.drugs.metformin, 10)
    prescription_id = await approved(client, world)
    proposals = await ok(
        await client.get(_proposals_url(prescription_id), headers=world.as_("patient"))
    )
    assert [p["store_id"] for p in proposals["items"]] == [str(world.store.id)]
    assert proposals["district_code"] == "140302"
    assert str(covering_but_empty.id) not in {p["store_id"] for p in proposals["items"]}


async def test_mountain_county_patients_get_their_county_store(client, world, db_session) -> None:
    county_store = await factories.store(db_session, covers=(PINGDING,))
    await stock(db_session, county_store, world.drugs.metformin, 5)
    world.patient.district_code = PINGDING
    world.patient.address = "阳泉市平定县娘子关镇下董寨村41号"
    await db_session.flush()
    prescription_id = await approved(client, world)
    proposals = await ok(
        await client.get(_proposals_url(prescription_id), headers=world.as_("patient"))
    )
    assert [p["store_id"] for p in proposals["items"]] == [str(county_store.id)]
    created = await ok(await _order(client, world, prescription_id, county_store.id), 201)
    assert created["district_code"] == PINGDING


async def test_an_address_outside_every_stores_coverage_is_refused(
    client, world, db_session
) -> None:
    world.patient.district_code = UNCOVERED
    await db_session.flush()
    prescription_id = await approved(client, world)
    response = await client.get(_proposals_url(prescription_id), headers=world.as_("patient"))
    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "district_not_covered" and "外市某区" in problem["detail"]
    ordering = await _order(client, world, prescription_id, world.store.id)
    assert ordering.json()["code"] == "district_not_covered"


async def test_no_store_in_stock_is_a_clear_refusal(client, world, db_session) -> None:
    row = await db_session.get(PharmacyStock, (world.store.id, world.drugs.metformin.id))
    row.quantity = 0
    await db_session.flush()
    prescription_id = await approved(client, world)
    response = await client.get(_proposals_url(prescription_id), headers=world.as_("patient"))
    assert response.status_code == 409 and response.json()["code"] == "no_store_in_stock"


async def test_a_store_that_was_not_proposed_cannot_be_chosen(client, world, db_session) -> None:
    elsewhere = await factories.store(db_session, covers=(PINGDING,))
    await stock(db_session, elsewhere, world.drugs.metformin, 10)
    prescription_id = await approved(client, world)
    response = await _order(client, world, prescription_id, elsewhere.id)
    assert response.status_code == 409 and response.json()["code"] == "store_not_available"


async def test_ordering_reserves_stock_once_per_idempotency_key(client, world, db_session) -> None:
    prescription_id = await approved(client, world)
    first = await ok(
        await _order(client, world, prescription_id, world.store.id, "same-key-1"), 201
    )
    again = await ok(
        await _order(client, world, prescription_id, world.store.id, "same-key-1"), 201
    )
    assert again["id"] == first["id"]
    row = await db_session.get(PharmacyStock, (world.store.id, world.drugs.metformin.id))
    await db_session.refresh(row)
    assert row.quantity == 49
    second = await _order(client, world, prescription_id, world.store.id)
    assert second.status_code == 409 and second.json()["code"] == "prescription_not_approved"


async def test_an_expired_prescription_cannot_be_ordered(client, world, db_session) -> None:
    from datetime import timedelta

    from app.models import Prescription

    prescription_id = await approved(client, world)
    row = await db_session.get(Prescription, uuid.UUID(prescription_id))
    # Written three days ago, valid for one: its day is over (the signature is not the point).
    row.written_on = row.written_on - timedelta(days=3)
    await db_session.flush()
    response = await client.get(_proposals_url(prescription_id), headers=world.as_("patient"))
    assert response.status_code == 409 and response.json()["code"] == "prescription_expired"


async def test_staff_of_another_store_do_not_see_the_order(
    client, world, db_session, settings
) -> None:
    prescription_id = await approved(client, world)
    order = await ok(await _order(client, world, prescription_id, world.store.id), 201)
    other_store = await factories.store(db_session)
    outsider = await store_staff(db_session, other_store, Role.pharmacist)
    headers = await factories.bearer(db_session, settings, outsider)
    assert (await client.get(f"/api/v1/orders/{order['id']}", headers=headers)).status_code == 404
    listed = await ok(await client.get("/api/v1/orders", headers=headers))
    assert listed["items"] == []
    mine = await ok(
        await client.get("/api/v1/orders?status=created", headers=world.as_("pharmacist"))
    )
    assert [o["id"] for o in mine["items"]] == [order["id"]]


async def test_store_staff_keep_their_stock(client, world: World) -> None:
    drug_id = world.drugs.acarbose.id
    counted = await ok(
        await client.put(
            f"/api/v1/pharmacy/stock/{drug_id}",
            json={"quantity": 7},
            headers=world.as_("pharmacist"),
        )
    )
    assert counted["quantity"] == 7 and counted["store_id"] == str(world.store.id)
    listed = await ok(await client.get("/api/v1/pharmacy/stock", headers=world.as_("pharmacist")))
    assert {row["drug_id"]: row["quantity"] for row in listed["items"]}[str(drug_id)] == 7
    couriers = await ok(
        await client.get("/api/v1/pharmacy/couriers", headers=world.as_("pharmacist"))
    )
    assert [c["account_id"] for c in couriers["items"]] == [str(world.courier_account.id)]
    hospital = await client.get("/api/v1/pharmacy/stock", headers=world.as_("reviewer"))
    assert hospital.status_code == 403
