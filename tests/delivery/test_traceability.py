"""A traceability code is one box: sold once while its sale stands, released when the order it
was scanned into is cancelled (the box may be sold again), and every scan and release kept as
an append-only fact."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.models import PharmacyStock
from tests.delivery.flows import ORDERS, delivered
from tests.prescription.world import World, dispatched, item, ok, ordered, rx_body, trace_code
from tests.realtime.recording import RecordingConnection

METFORMIN_PACKS = 50


async def _accept_and_scan(client, world: World, order: dict, code: str) -> dict:
    staff = world.as_("pharmacist")
    await ok(await client.post(f"{ORDERS}/{order['id']}/accept", headers=staff))
    box = {"drug_id": order["lines"][0]["drug_id"], "code": code}
    return await ok(
        await client.post(f"{ORDERS}/{order['id']}/scans", json={"boxes": [box]}, headers=staff)
    )


async def _scan_into_new_order(client, world: World, code: str) -> dict:
    order = await ordered(client, world, rx_body(world, item(world.drugs.acarbose, "1", "tid")))
    return await _accept_and_scan(client, world, order, code)


async def test_cancelling_releases_scanned_codes_for_sale_again(
    client, world: World, db_session
) -> None:
    order = await ordered(client, world)
    code = trace_code()
    scanned = await _accept_and_scan(client, world, order, code)
    assert scanned["items"][0]["outcome"] == "accepted"
    cancelled = await ok(
        await client.post(
            f"{ORDERS}/{order['id']}/cancel",
            json={"reason": "患者改约"},
            headers=world.as_("pharmacist"),
        )
    )
    assert cancelled["traceability_codes"] == []
    history = [(e["code"], e["event"], e["reason"]) for e in cancelled["traceability_history"]]
    assert history == [(code, "scanned", None), (code, "released", "患者改约")]
    stock = await db_session.get(PharmacyStock, (world.store.id, world.drugs.metformin.id))
    await db_session.refresh(stock)
    assert stock.quantity == METFORMIN_PACKS
    # The box is back on the shelf: another order may sell it.
    again = await _scan_into_new_order(client, world, code)
    assert again["items"][0]["outcome"] == "accepted"


async def test_a_revoked_prescription_releases_the_boxes_of_its_order(client, world: World) -> None:
    order = await ordered(client, world)
    code = trace_code()
    await _accept_and_scan(client, world, order, code)
    await ok(
        await client.post(
            f"/api/v1/prescriptions/{order['prescription_id']}/revoke",
            json={"reason": "调整用药"},
            headers=world.as_("doctor"),
        )
    )
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("pharmacist")))
    assert view["status"] == "cancelled" and view["traceability_codes"] == []
    assert (await _scan_into_new_order(client, world, code))["items"][0]["outcome"] == "accepted"


@pytest.mark.parametrize("stage", ["dispatched", "delivered", "completed"])
async def test_a_code_whose_order_went_on_stays_sold(client, world: World, stage: str) -> None:
    order = await ordered(client, world)
    if stage == "dispatched":
        await dispatched(client, world, order)
    else:
        await delivered(client, world, order)
        if stage == "completed":
            await ok(
                await client.post(f"{ORDERS}/{order['id']}/complete", headers=world.as_("courier"))
            )
    view = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=world.as_("pharmacist")))
    [code] = view["traceability_codes"]
    refused = await _scan_into_new_order(client, world, code)
    assert refused["items"][0] == {
        "code": code, "outcome": "rejected", "reason": "traceability_code_used",
    }  # fmt: skip


async def test_a_failed_delivery_that_came_back_keeps_its_boxes_sold(client, world: World) -> None:
    order = await ordered(client, world)
    await dispatched(client, world, order)
    url = f"{ORDERS}/{order['id']}"
    await ok(
        await client.post(f"{url}/fail", json={"reason": "无人"}, headers=world.as_("courier"))
    )
    await ok(await client.post(f"{url}/return", headers=world.as_("courier")))
    back = await ok(await client.post(f"{url}/returned", headers=world.as_("pharmacist")))
    [code] = back["traceability_codes"]
    refused = await _scan_into_new_order(client, world, code)
    assert refused["items"][0]["reason"] == "traceability_code_used"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE traceability_events SET event = 'released'", "DELETE FROM traceability_events"],
)
async def test_box_history_is_append_only_in_the_database(
    client, world: World, db_session, statement: str
) -> None:
    order = await ordered(client, world)
    await _accept_and_scan(client, world, order, trace_code())
    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(text(statement))


async def test_an_accepted_scan_moves_the_order_on_and_every_board_redraws_it(
    client, world: World, app
) -> None:
    """A board that fetched the order before the scan must not be able to overwrite the
    scanned count with its older copy: the scan moves `updated_at` and pushes the change."""
    order = await ordered(client, world)
    staff = world.as_("pharmacist")
    accepted = await ok(await client.post(f"{ORDERS}/{order['id']}/accept", headers=staff))
    board = RecordingConnection()
    await app.state.hub.register(world.pharmacist_account.id, board)
    box = {"drug_id": order["lines"][0]["drug_id"], "code": trace_code()}
    url = f"{ORDERS}/{order['id']}/scans"
    await ok(await client.post(url, json={"boxes": [box]}, headers=staff))
    after = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=staff))
    assert after["lines"][0]["scanned"] == 1
    moved = datetime.fromisoformat(after["updated_at"])
    assert moved > datetime.fromisoformat(accepted["updated_at"])
    pushed = [e for e in board.events if e["type"] == "order.updated"]
    assert [datetime.fromisoformat(e["updated_at"]) for e in pushed] == [moved]
    # Scanning the same box again changes nothing: no new version, no push.
    repeat = await ok(await client.post(url, json={"boxes": [box]}, headers=staff))
    assert repeat["items"][0]["outcome"] == "duplicate"
    again = await ok(await client.get(f"{ORDERS}/{order['id']}", headers=staff))
    assert datetime.fromisoformat(again["updated_at"]) == moved
    assert len([e for e in board.events if e["type"] == "order.updated"]) == 1
