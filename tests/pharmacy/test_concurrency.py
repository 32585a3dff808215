"""Races settled by the database (PostgreSQL, real concurrent requests): the last pack goes to
one order only, one box cannot be scanned into two orders at once, a cancelled order releases
its boxes once, and a quality return opens, takes its boxes back and completes exactly once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import PharmacyStock, Role
from tests.delivery.flows import completed
from tests.fixtures import factories
from tests.pharmacy.live import Live, live_service
from tests.prescription import phone as doctor_phone
from tests.prescription.world import (
    URBAN,
    World,
    approved,
    entitle,
    item,
    ok,
    rx_body,
    trace_code,
)

pytestmark = pytest.mark.postgres


async def _second_patient_and_one_pack(session: AsyncSession, world: World) -> None:
    account = await factories.account(session, Role.patient)
    patient = await factories.patient_of(session, account)
    patient.district_code, patient.address = URBAN, "阳泉市城区桃北东街1号"
    await factories.care(session, patient, world.doctor)
    await entitle(session, patient, world.disease, world.doctor.institution_id)
    await factories.insured(session, patient)  # ordering needs a verified insured identity
    world.headers["patient2"] = await factories.bearer(session, world.settings, account)
    world.headers["patient2_id"] = {"id": str(patient.id)}
    await session.execute(
        update(PharmacyStock)
        .where(
            PharmacyStock.store_id == world.store.id,
            PharmacyStock.drug_id == world.drugs.metformin.id,
        )
        .values(quantity=1)
    )


def _order(live: Live, prescription_id: str, who: str = "patient"):
    return live.http.post(
        "/api/v1/orders",
        json={"prescription_id": prescription_id, "store_id": str(live.world.store.id)},
        headers={**live.world.as_(who), "Idempotency-Key": uuid.uuid4().hex},
    )


async def test_the_last_pack_goes_to_exactly_one_order() -> None:
    async with live_service(_second_patient_and_one_pack, outbox_relay_enabled=False) as live:
        world = live.world
        mine = await approved(live.http, world, rx_body(world))
        theirs = await approved(
            live.http, world, rx_body(world, patient_id=world.headers["patient2_id"]["id"])
        )
        responses = await asyncio.gather(_order(live, mine), _order(live, theirs, "patient2"))
        assert sorted(r.status_code for r in responses) == [201, 409]
        refused = next(r for r in responses if r.status_code == 409).json()["code"]
        assert refused in ("out_of_stock", "no_store_in_stock")
        stock = await ok(
            await live.http.get("/api/v1/pharmacy/stock", headers=world.as_("pharmacist"))
        )
        levels = {row["drug_id"]: row["quantity"] for row in stock["items"]}
        assert levels[str(world.drugs.metformin.id)] == 0


async def test_one_box_cannot_be_scanned_into_two_orders_at_once() -> None:
    async with live_service(outbox_relay_enabled=False) as live:
        world, http = live.world, live.http
        first = await approved(http, world, rx_body(world, item(world.drugs.metformin)))
        second = await approved(http, world, rx_body(world, item(world.drugs.acarbose, "1", "tid")))
        orders = [await ok(await _order(live, pid), 201) for pid in (first, second)]
        staff = world.as_("pharmacist")
        for order in orders:
            await ok(await http.post(f"/api/v1/orders/{order['id']}/accept", headers=staff))
        code = trace_code()
        scans = [
            http.post(
                f"/api/v1/orders/{order['id']}/scans",
                json={"boxes": [{"drug_id": order["lines"][0]["drug_id"], "code": code}]},
                headers=staff,
            )
            for order in orders
        ]
        results = [await ok(r) for r in await asyncio.gather(*scans)]
        outcomes = sorted(result["items"][0]["outcome"] for result in results)
        assert outcomes == ["accepted", "rejected"]


async def test_a_doctors_two_signatures_at_once_both_seal_with_their_one_active_key() -> None:
    # Two drafts signed on the phone at the same moment: both verified against the doctor's
    # active key (shared row locks), both sealed with its id.
    async with live_service(outbox_relay_enabled=False) as live:
        world, http = live.world, live.http
        drafts = [
            await ok(
                await http.post(
                    "/api/v1/prescriptions",
                    json=rx_body(world, item(world.drugs.metformin)),
                    headers=world.as_("doctor"),
                ),
                201,
            )
            for _ in range(2)
        ]
        signed = await asyncio.gather(
            *(doctor_phone.sign(http, d["id"], world.as_("doctor"), world.phone) for d in drafts)
        )
        assert [r.status_code for r in signed] == [200, 200], [r.text for r in signed]
        keys = {r.json()["signature"]["public_key"] for r in signed}
        assert keys == {world.phone.public_key}


def _same_request_at_once(live: Live, method: str, path: str, who: str, body=None, n: int = 5):
    """`n` identical requests in flight together (each its own connection)."""
    return asyncio.gather(
        *(live.http.request(method, path, json=body, headers=live.world.as_(who)) for _ in range(n))
    )


async def test_cancelling_one_order_at_once_releases_its_boxes_once() -> None:
    async with live_service(outbox_relay_enabled=False) as live:
        world, http = live.world, live.http
        order = await ok(await _order(live, await approved(http, world, rx_body(world))), 201)
        staff = world.as_("pharmacist")
        await ok(await http.post(f"/api/v1/orders/{order['id']}/accept", headers=staff))
        code = trace_code()
        box = {"drug_id": order["lines"][0]["drug_id"], "code": code}
        await ok(
            await http.post(
                f"/api/v1/orders/{order['id']}/scans", json={"boxes": [box]}, headers=staff
            )
        )
        responses = await _same_request_at_once(
            live, "POST", f"/api/v1/orders/{order['id']}/cancel", "pharmacist", {"reason": "x"}
        )
        assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
        view = await ok(await http.get(f"/api/v1/orders/{order['id']}", headers=staff))
        assert [e["event"] for e in view["traceability_history"]] == ["scanned", "released"]
        stock = await ok(await http.get("/api/v1/pharmacy/stock", headers=staff))
        levels = {row["drug_id"]: row["quantity"] for row in stock["items"]}
        assert levels[str(world.drugs.metformin.id)] == 50


async def test_a_quality_return_opens_once_and_completes_once_under_concurrency() -> None:
    async with live_service(outbox_relay_enabled=False) as live:
        world, http = live.world, live.http
        order = await ok(await _order(live, await approved(http, world, rx_body(world))), 201)
        await completed(http, world, order)
        opened = await _same_request_at_once(
            live, "POST", f"/api/v1/orders/{order['id']}/quality-returns", "patient",
            {"reason": "药片变色"},
        )  # fmt: skip
        assert sorted(r.status_code for r in opened) == [201, 409, 409, 409, 409]
        assert {r.json()["code"] for r in opened if r.status_code == 409} == {
            "quality_return_exists"
        }
        [created] = [r.json() for r in opened if r.status_code == 201]
        url = f"/api/v1/quality-returns/{created['id']}"
        await ok(await http.post(f"{url}/accept", headers=world.as_("pharmacist")))
        checked = await _same_request_at_once(
            live, "POST", f"{url}/boxes", "pharmacist", {"codes": created["codes_sold"]}
        )
        outcomes = sorted(r.json()["items"][0]["outcome"] for r in checked)
        assert outcomes == ["accepted", "duplicate", "duplicate", "duplicate", "duplicate"]
        done = await _same_request_at_once(live, "POST", f"{url}/complete", "pharmacist")
        assert sorted(r.status_code for r in done) == [200, 409, 409, 409, 409]
        settlements = await ok(
            await http.get("/api/v1/insurance/settlements", headers=world.as_("patient"))
        )
        kinds = sorted(s["kind"] for s in settlements["items"] if s["order_id"] == order["id"])
        assert kinds == ["reversal", "settlement"]
