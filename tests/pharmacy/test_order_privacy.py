"""Who sees the patient's phone and address on an order, and that every read of them - lists
included - lands in the patient's access log."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.models import AuditEvent, Role
from tests.delivery.flows import ORDERS, completed
from tests.fixtures import factories
from tests.prescription.world import (
    World,
    dispatched,
    item,
    ok,
    ordered,
    rx_body,
    store_staff,
)
from tests.realtime.recording import RecordingConnection

PHONE, MASKED_PHONE = "13903531001", "139****1001"


async def _order_reads(db_session, order_id: str, role: str) -> list[AuditEvent]:
    rows = await db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.resource_type == "pharmacy_order",
            AuditEvent.resource_id == order_id,
            AuditEvent.action == "read",
            AuditEvent.actor_role == role,
        )
    )
    return list(rows)


@pytest.mark.parametrize("who", ["pharmacist", "courier"])
async def test_a_store_staff_list_read_is_in_the_patients_access_log(
    client, world: World, db_session, who: str
) -> None:
    first = await ordered(client, world)
    second = await ordered(client, world, rx_body(world, item(world.drugs.acarbose, "1", "tid")))
    page = await ok(await client.get(f"{ORDERS}?limit=200", headers=world.as_(who)))
    listed = {item["id"] for item in page["items"]}
    assert {first["id"], second["id"]} <= listed
    for order in (first, second):
        [read] = await _order_reads(db_session, order["id"], who)
        assert read.patient_id == world.patient.id
    log = await ok(await client.get("/api/v1/patients/me/access-log", headers=world.as_("patient")))
    seen = {(e["actor_role"], e["resource_id"]) for e in log["items"] if e["action"] == "read"}
    assert {(who, first["id"]), (who, second["id"])} <= seen


async def test_an_empty_list_logs_nothing(client, world: World, db_session, settings) -> None:
    await ordered(client, world)
    other_store = await factories.store(db_session)
    stranger = await store_staff(db_session, other_store, Role.pharmacist)
    headers = await factories.bearer(db_session, settings, stranger)
    page = await ok(await client.get(ORDERS, headers=headers))
    assert page["items"] == []
    logged = await db_session.scalars(
        select(AuditEvent).where(AuditEvent.actor_account_id == stranger.id)
    )
    assert logged.all() == []


async def test_the_courier_sees_contact_only_while_the_parcel_is_on_its_way(
    client, world: World
) -> None:
    order = await ordered(client, world)
    url = f"{ORDERS}/{order['id']}"
    await dispatched(client, world, order)
    on_the_way = await ok(await client.get(url, headers=world.as_("courier")))
    assert on_the_way["delivery_phone"] == PHONE
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    await ok(
        await client.post(f"{url}/handover", json={"code": code}, headers=world.as_("courier"))
    )
    for state in ("delivered", "completed"):
        if state == "completed":
            await ok(await client.post(f"{url}/complete", headers=world.as_("courier")))
        detail = await ok(await client.get(url, headers=world.as_("courier")))
        assert detail["status"] == state
        assert detail["delivery_phone"] == MASKED_PHONE
        assert detail["delivery_address"].endswith("****")
        listed = await ok(await client.get(ORDERS, headers=world.as_("courier")))
        [row] = [item for item in listed["items"] if item["id"] == order["id"]]
        assert row["delivery_phone"] == MASKED_PHONE and row["delivery_address"].endswith("****")
    # The patient keeps seeing their own.
    mine = await ok(await client.get(url, headers=world.as_("patient")))
    assert mine["delivery_phone"] == PHONE


async def test_a_failed_delivery_masks_contact_for_the_courier(client, world: World) -> None:
    order = await ordered(client, world)
    await dispatched(client, world, order)
    url = f"{ORDERS}/{order['id']}"
    await ok(
        await client.post(f"{url}/fail", json={"reason": "无人签收"}, headers=world.as_("courier"))
    )
    failed = await ok(await client.get(url, headers=world.as_("courier")))
    assert failed["status"] == "delivery_failed" and failed["delivery_phone"] == MASKED_PHONE


async def test_pushes_never_carry_the_patients_phone_or_address(client, world: World, app) -> None:
    courier_socket = RecordingConnection()
    await app.state.hub.register(world.courier_account.id, courier_socket)
    order = await ordered(client, world)
    await completed(client, world, order)
    pushed = [e for e in courier_socket.events if e.get("order_id") == order["id"]]
    assert {e["status"] for e in pushed} >= {"dispatched", "delivered", "completed"}
    for event in pushed:
        text = repr(event)
        assert PHONE not in text and "南大街" not in text
        assert "delivery_phone" not in event and "delivery_address" not in event


async def test_a_list_read_by_the_patient_is_logged_too(client, world: World, db_session) -> None:
    order = await ordered(client, world)
    await ok(await client.get(ORDERS, headers=world.as_("patient")))
    [read] = await _order_reads(db_session, order["id"], "patient")
    assert read.actor_account_id == world.patient_account.id
    assert read.resource_id == str(uuid.UUID(order["id"]))


async def test_the_door_position_is_withheld_once_the_parcel_is_handed_over(
    client, world: World, app
) -> None:
    order = await ordered(client, world)
    url = f"{ORDERS}/{order['id']}"
    await dispatched(client, world, order)
    position = {**world.as_("courier"), "Idempotency-Key": "door"}
    await ok(
        await client.post(f"{url}/location", json={"lat": 37.86, "lng": 113.58}, headers=position)
    )
    tracking = await ok(await client.get(url, headers=world.as_("pharmacist")))
    assert tracking["last_lat"] == 37.86  # the store follows the courier while on the way
    store_socket = RecordingConnection()
    await app.state.hub.register(world.pharmacist_account.id, store_socket)
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    await ok(
        await client.post(
            f"{url}/handover",
            json={"code": code, "lat": 37.8601, "lng": 113.5801},
            headers=world.as_("courier"),
        )
    )
    for who in ("pharmacist", "courier"):
        view = await ok(await client.get(url, headers=world.as_(who)))
        assert (view["last_lat"], view["last_lng"], view["last_located_at"]) == (None, None, None)
        assert all(h["lat"] is None and h["lng"] is None for h in view["history"])
    mine = await ok(await client.get(url, headers=world.as_("patient")))
    assert mine["last_lat"] == 37.86 and mine["history"][-1]["lat"] == 37.8601
    [pushed] = [e for e in store_socket.events if e.get("status") == "delivered"]
    assert (pushed["lat"], pushed["lng"], pushed["located_at"]) == (None, None, None)
