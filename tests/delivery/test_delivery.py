"""An order from acceptance to hand-over: traceability codes sold once, the one-time hand-over
code, courier positions pushed live with an ETA, cold-chain excursions, and 409 for every
illegal step with nothing changed."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.kit.clock import utcnow
from app.models import OrderTransition, PharmacyOrder
from tests.prescription.world import (
    World,
    dispatched,
    item,
    ok,
    ordered,
    picked,
    rx_body,
    trace_code,
)
from tests.realtime.recording import RecordingConnection

ORDERS = "/api/v1/orders"


async def _state(db_session, order_id: str) -> tuple[str, int]:
    row = await db_session.get(PharmacyOrder, uuid.UUID(order_id))
    assert row is not None
    await db_session.refresh(row)
    count = await db_session.scalar(select(func.count()).where(OrderTransition.order_id == row.id))
    return row.status, int(count or 0)


async def test_the_whole_delivery_records_actor_time_and_place(client, world: World) -> None:
    order = await ordered(client, world)
    url = f"{ORDERS}/{order['id']}"
    staff = world.as_("pharmacist")
    await ok(await client.post(f"{url}/accept", json={"place": "北大街店柜台"}, headers=staff))
    boxes = [{"drug_id": str(world.drugs.metformin.id), "code": trace_code()}]
    await ok(await client.post(f"{url}/scans", json={"boxes": boxes}, headers=staff))
    await ok(await client.post(f"{url}/pick", headers=staff))
    await ok(
        await client.post(
            f"{url}/dispatch",
            json={
                "courier_account_id": str(world.courier_account.id),
                "lat": 37.857,
                "lng": 113.583,
            },
            headers=staff,
        )
    )
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    delivered = await ok(
        await client.post(
            f"{url}/handover",
            json={"code": code, "lat": 37.86, "lng": 113.59},
            headers=world.as_("courier"),
        )
    )
    done = await ok(await client.post(f"{url}/complete", headers=world.as_("courier")))
    assert done["status"] == "completed"
    steps = [(h["to_status"], h["actor_kind"]) for h in done["history"]]
    assert steps == [
        ("created", "account"), ("accepted", "account"), ("picked", "account"),
        ("dispatched", "account"), ("delivered", "account"), ("completed", "account"),
    ]  # fmt: skip
    assert delivered["history"][1]["place"] == "北大街店柜台"
    # The hand-over GPS is the patient's door: recorded, shown to those who see the address.
    assert delivered["history"][4]["lat"] is None
    mine = await ok(await client.get(url, headers=world.as_("patient")))
    assert mine["history"][4]["lat"] == 37.86
    assert done["traceability_codes"] == [boxes[0]["code"]]
    prescription = await ok(
        await client.get(
            f"/api/v1/prescriptions/{order['prescription_id']}", headers=world.as_("patient")
        )
    )
    assert prescription["status"] == "dispensed"


async def test_a_traceability_code_is_never_sold_twice(client, world: World) -> None:
    first = await ordered(client, world)
    second = await ordered(client, world, rx_body(world, item(world.drugs.acarbose, "1", "tid")))
    staff = world.as_("pharmacist")
    code = trace_code()
    for order in (first, second):
        await ok(await client.post(f"{ORDERS}/{order['id']}/accept", headers=staff))
    box = {"drug_id": str(world.drugs.metformin.id), "code": code}
    sold = await ok(
        await client.post(f"{ORDERS}/{first['id']}/scans", json={"boxes": [box]}, headers=staff)
    )
    assert sold["items"][0]["outcome"] == "accepted"
    again = await ok(
        await client.post(f"{ORDERS}/{first['id']}/scans", json={"boxes": [box]}, headers=staff)
    )
    assert again["items"][0]["outcome"] == "duplicate"
    other = {"drug_id": str(world.drugs.acarbose.id), "code": code}
    refused = await ok(
        await client.post(f"{ORDERS}/{second['id']}/scans", json={"boxes": [other]}, headers=staff)
    )
    assert refused["items"][0] == {
        "code": code, "outcome": "rejected", "reason": "traceability_code_used",
    }  # fmt: skip
    assert not refused["complete"]


async def test_scans_report_per_box_and_picking_needs_every_box(client, world: World) -> None:
    order = await ordered(client, world, rx_body(world, item(world.drugs.metformin, "2", "bid")))
    assert order["lines"][0]["packs"] == 2
    url, staff = f"{ORDERS}/{order['id']}", world.as_("pharmacist")
    await ok(await client.post(f"{url}/accept", headers=staff))
    metformin = str(world.drugs.metformin.id)
    boxes = [
        {"drug_id": metformin, "code": trace_code()},
        {"drug_id": str(world.drugs.acarbose.id), "code": trace_code()},
    ]
    result = await ok(await client.post(f"{url}/scans", json={"boxes": boxes}, headers=staff))
    assert [i["outcome"] for i in result["items"]] == ["accepted", "rejected"]
    assert result["items"][1]["reason"] == "drug_not_in_order"
    response = await client.post(f"{url}/pick", headers=staff)
    assert response.status_code == 409 and response.json()["code"] == "picking_incomplete"
    extra = [
        {"drug_id": metformin, "code": trace_code()},
        {"drug_id": metformin, "code": trace_code()},
    ]
    result = await ok(await client.post(f"{url}/scans", json={"boxes": extra}, headers=staff))
    assert [i["outcome"] for i in result["items"]] == ["accepted", "rejected"]
    assert result["items"][1]["reason"] == "too_many_boxes" and result["complete"]
    assert (await ok(await client.post(f"{url}/pick", headers=staff)))["status"] == "picked"


async def test_the_handover_code_is_one_time_and_guessing_runs_out(
    client, world: World, db_session
) -> None:
    order = await ordered(client, world)
    await dispatched(client, world, order)
    url = f"{ORDERS}/{order['id']}"
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    assert code is not None and len(code) == 6
    # Nobody but the patient sees the code.
    for who in ("pharmacist", "courier"):
        assert (await ok(await client.get(url, headers=world.as_(who))))["handover_code"] is None
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(world.settings.handover_code_max_failures):
        response = await client.post(
            f"{url}/handover", json={"code": wrong}, headers=world.as_("courier")
        )
        assert response.json()["code"] == "handover_code_invalid"
    locked = await client.post(f"{url}/handover", json={"code": code}, headers=world.as_("courier"))
    assert locked.status_code == 409 and locked.json()["code"] == "handover_code_locked"
    reissued = await ok(await client.post(f"{url}/handover-code", headers=world.as_("pharmacist")))
    assert reissued["status"] == "dispatched"
    fresh = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    await ok(
        await client.post(f"{url}/handover", json={"code": fresh}, headers=world.as_("courier"))
    )
    used = await client.post(f"{url}/handover", json={"code": fresh}, headers=world.as_("courier"))
    assert used.status_code == 409
    assert (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"] is None


async def test_courier_position_is_pushed_live_with_an_eta(client, world: World, app) -> None:
    order = await ordered(client, world)
    await dispatched(client, world, order)
    patient_socket, store_socket = RecordingConnection(), RecordingConnection()
    await app.state.hub.register(world.patient_account.id, patient_socket)
    await app.state.hub.register(world.pharmacist_account.id, store_socket)
    url = f"{ORDERS}/{order['id']}/location"
    headers = {**world.as_("courier"), "Idempotency-Key": "pos-1"}
    first = await ok(await client.post(url, json={"lat": 37.87, "lng": 113.56}, headers=headers))
    repeat = await ok(await client.post(url, json={"lat": 37.87, "lng": 113.56}, headers=headers))
    assert first["recorded"] and not repeat["recorded"]
    pushed = [e for e in patient_socket.events if e["type"] == "delivery.location"]
    assert len(pushed) == 1 and pushed[0]["lat"] == 37.87 and pushed[0]["eta_at"]
    assert pushed[0]["eta_local"] and any(
        e["type"] == "delivery.location" for e in store_socket.events
    )
    eta_minutes = (datetime.fromisoformat(pushed[0]["eta_at"]) - utcnow()) / timedelta(minutes=1)
    assert 0 < eta_minutes < 60


async def test_the_courier_sees_the_address_the_store_a_masked_one(client, world: World) -> None:
    order = await ordered(client, world)
    await dispatched(client, world, order)
    url = f"{ORDERS}/{order['id']}"
    courier_view = await ok(await client.get(url, headers=world.as_("courier")))
    store_view = await ok(await client.get(url, headers=world.as_("pharmacist")))
    assert courier_view["delivery_phone"] == "13903531001"
    assert store_view["delivery_phone"] == "139****1001"
    assert store_view["delivery_address"].endswith("****")


async def test_another_courier_of_the_store_cannot_act_on_the_delivery(
    client, world: World, db_session, settings
) -> None:
    from app.models import Role
    from tests.fixtures import factories
    from tests.prescription.world import store_staff

    order = await ordered(client, world)
    await dispatched(client, world, order)
    colleague = await store_staff(db_session, world.store, Role.courier)
    headers = {**await factories.bearer(db_session, settings, colleague), "Idempotency-Key": "x"}
    response = await client.post(
        f"{ORDERS}/{order['id']}/location", json={"lat": 37.8, "lng": 113.5}, headers=headers
    )
    assert response.status_code == 404


async def test_someone_elses_order_is_404_before_its_body_is_validated_but_not_before_decoded(
    client, world: World, db_session, settings
) -> None:
    from app.models import Role
    from tests.fixtures import factories
    from tests.prescription.world import store_staff

    order = await ordered(client, world)
    await dispatched(client, world, order)
    colleague = await store_staff(db_session, world.store, Role.courier)
    headers = {**await factories.bearer(db_session, settings, colleague), "Idempotency-Key": "y"}
    url = f"{ORDERS}/{order['id']}/location"
    wrong_fields = await client.post(url, json={"lat": "north"}, headers=headers)
    assert wrong_fields.status_code == 404
    not_json = await client.post(
        url, content=b"{lat", headers={**headers, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 422


async def _cold_order(client, world: World) -> dict:
    body = rx_body(world, item(world.drugs.glargine, "20", "qd", 7))
    order = await ordered(client, world, body)
    assert order["cold_chain"]
    return order


async def test_cold_chain_dispatch_needs_a_seal(client, world: World) -> None:
    order = await _cold_order(client, world)
    await picked(client, world, order)
    response = await client.post(
        f"{ORDERS}/{order['id']}/dispatch",
        json={"courier_account_id": str(world.courier_account.id)},
        headers=world.as_("pharmacist"),
    )
    assert response.status_code == 409 and response.json()["code"] == "seal_required"


async def test_an_excursion_fails_the_delivery_and_sends_it_back(client, world, db_session) -> None:
    order = await _cold_order(client, world)
    await dispatched(client, world, order, seal_id="SEAL-0001")
    url = f"{ORDERS}/{order['id']}"
    now = utcnow()
    readings = [
        {"measured_at": (now - timedelta(minutes=20)).isoformat(), "celsius": "4.5"},
        {"measured_at": (now - timedelta(minutes=10)).isoformat(), "celsius": "9.3"},
    ]
    logged = await ok(
        await client.post(
            f"{url}/temperatures",
            json={"seal_id": "SEAL-0001", "readings": readings},
            headers=world.as_("courier"),
        )
    )
    counts = ("recorded", "duplicates", "rejected", "excursion", "status")
    assert {k: logged[k] for k in counts} == {
        "recorded": 2, "duplicates": 0, "rejected": 0, "excursion": True, "status": "returning",
    }  # fmt: skip
    assert [(i["outcome"], i["in_range"], i["late"]) for i in logged["items"]] == [
        ("accepted", True, False), ("accepted", False, False),
    ]  # fmt: skip
    view = await ok(await client.get(url, headers=world.as_("pharmacist")))
    assert [h["to_status"] for h in view["history"]][-2:] == ["delivery_failed", "returning"]
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    assert code is None
    response = await client.post(f"{url}/complete", headers=world.as_("courier"))
    assert response.status_code == 409
    await ok(await client.post(f"{url}/returned", headers=world.as_("pharmacist")))
    assert (await _state(db_session, order["id"]))[0] == "returned"


async def test_a_clean_cold_chain_is_handed_over_with_an_intact_seal(client, world: World) -> None:
    order = await _cold_order(client, world)
    await dispatched(client, world, order, seal_id="SEAL-0002")
    url = f"{ORDERS}/{order['id']}"
    now = utcnow()
    reading = {"measured_at": now.isoformat(), "celsius": "5.0"}
    logged = await ok(
        await client.post(f"{url}/temperatures", json={"readings": [reading, reading]},
                          headers=world.as_("courier"))
    )  # fmt: skip
    assert logged["recorded"] == 1 and logged["duplicates"] == 1 and not logged["excursion"]
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    broken = await client.post(
        f"{url}/handover", json={"code": code, "seal_id": "SEAL-9999"}, headers=world.as_("courier")
    )
    assert broken.status_code == 409 and broken.json()["code"] == "seal_mismatch"
    await ok(
        await client.post(
            f"{url}/handover",
            json={"code": code, "seal_id": "SEAL-0002"},
            headers=world.as_("courier"),
        )
    )
    done = await ok(await client.post(f"{url}/complete", headers=world.as_("courier")))
    assert done["status"] == "completed"


async def test_pickup_is_handed_over_at_the_counter(client, world: World) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    await picked(client, world, order)
    url = f"{ORDERS}/{order['id']}"
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    no_courier = await client.post(
        f"{url}/dispatch",
        json={"courier_account_id": str(world.courier_account.id)},
        headers=world.as_("pharmacist"),
    )
    assert no_courier.status_code == 409
    done = await ok(
        await client.post(f"{url}/handover", json={"code": code}, headers=world.as_("pharmacist"))
    )
    assert done["status"] == "delivered"


async def test_a_retried_step_with_its_key_changes_nothing(
    client, world: World, db_session
) -> None:
    order = await ordered(client, world)
    headers = {**world.as_("pharmacist"), "Idempotency-Key": "accept-1"}
    url = f"{ORDERS}/{order['id']}/accept"
    await ok(await client.post(url, headers=headers))
    again = await ok(await client.post(url, headers=headers))
    assert again["status"] == "accepted"
    assert await _state(db_session, order["id"]) == ("accepted", 2)
    # Without the key the same request is an illegal move.
    response = await client.post(url, headers=world.as_("pharmacist"))
    assert response.status_code == 409


async def test_the_patient_cancels_before_picking_and_stock_returns(
    client, world, db_session
) -> None:
    from app.models import PharmacyStock

    order = await ordered(client, world)
    cancelled = await ok(
        await client.post(
            f"{ORDERS}/{order['id']}/cancel", json={"reason": "改为到医院取药"},
            headers=world.as_("patient"),
        )
    )  # fmt: skip
    assert cancelled["status"] == "cancelled"
    stock = await db_session.get(PharmacyStock, (world.store.id, world.drugs.metformin.id))
    await db_session.refresh(stock)
    assert stock.quantity == 50
    prescription = await ok(
        await client.get(
            f"/api/v1/prescriptions/{order['prescription_id']}", headers=world.as_("patient")
        )
    )
    assert prescription["status"] == "approved"


# --- illegal steps from each state ---------------------------------------------------------

STEPS = {
    "accept": ("pharmacist", None),
    "pick": ("pharmacist", None),
    "complete": ("courier", None),
    "return": ("pharmacist", None),
    "returned": ("pharmacist", None),
    "cancel": ("pharmacist", {"reason": "x"}),
}
LEGAL = {
    "created": {"accept", "cancel"},
    "accepted": {"cancel"},  # pick needs every box scanned first (its own 409)
    "picked": set(),
    "dispatched": set(),
    "delivered": {"complete"},
}


async def _order_in(client, world: World, status: str) -> dict:
    order = await ordered(client, world)
    if status == "created":
        return order
    if status == "accepted":
        await ok(
            await client.post(f"{ORDERS}/{order['id']}/accept", headers=world.as_("pharmacist"))
        )
        return order
    if status == "picked":
        await picked(client, world, order)
        return order
    await dispatched(client, world, order)
    if status == "delivered":
        code = (
            await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("patient")))
        )["handover_code"]
        await ok(
            await client.post(
                f"{ORDERS}/{order['id']}/handover",
                json={"code": code},
                headers=world.as_("courier"),
            )
        )
    return order


@pytest.mark.parametrize("step", sorted(STEPS))
@pytest.mark.parametrize("status", sorted(LEGAL))
async def test_illegal_steps_answer_409_and_change_nothing(
    client, world: World, db_session, status: str, step: str
) -> None:
    order = await _order_in(client, world, status)
    before = await _state(db_session, order["id"])
    who, body = STEPS[step]
    response = await client.post(
        f"{ORDERS}/{order['id']}/{step}", json=body, headers=world.as_(who)
    )
    if step in LEGAL[status]:
        assert response.status_code == 200, response.text
    elif who == "courier" and status in ("created", "accepted", "picked"):
        assert response.status_code == 404  # not assigned to any courier yet
    else:
        assert response.status_code == 409, response.text
        assert await _state(db_session, order["id"]) == before
