"""The order flow and insurance: ordering shows the split, hand-over settles, nothing but a
completed quality return reverses it afterwards, and an order the insurance cannot price is
refused."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.models import Prescription, Settlement
from tests.fixtures import factories
from tests.fixtures.metrics import counted
from tests.prescription.world import World, approved, ok, ordered, picked, quality_returned

ORDERS = "/api/v1/orders"
INSURANCE = "/api/v1/insurance"


async def _hand_over_at_counter(client, world: World, order: dict) -> None:
    await picked(client, world, order)
    url = f"{ORDERS}/{order['id']}"
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    await ok(
        await client.post(f"{url}/handover", json={"code": code}, headers=world.as_("pharmacist"))
    )


async def _settlements(client, world: World, order_id: str) -> list[dict]:
    page = await ok(await client.get(f"{INSURANCE}/settlements", headers=world.as_("patient")))
    return [s for s in page["items"] if s["order_id"] == order_id]


def _settlement_metrics(kind: str) -> tuple[float, float, float, float]:
    """insurance_settlements_total and the settled total, fund and personal fen of `kind`."""
    return (
        counted("insurance_settlements_total", kind=kind),
        *(
            counted("insurance_settled_fen_total", kind=kind, part=part)
            for part in ("total", "fund", "personal")
        ),
    )


async def test_ordering_stores_the_split_the_patient_sees(client, world: World) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    quote = await ok(
        await client.get(f"{INSURANCE}/orders/{order['id']}/quote", headers=world.as_("patient"))
    )
    assert quote["total_fen"] == order["total_fen"]
    assert quote["fund_fen"] + quote["personal_fen"] == quote["total_fen"]
    assert await _settlements(client, world, order["id"]) == []


async def test_hand_over_settles_the_order_once(client, world: World) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    counted, total, fund, personal = _settlement_metrics("settlement")
    await _hand_over_at_counter(client, world, order)
    [settled] = await _settlements(client, world, order["id"])
    assert settled["kind"] == "settlement"
    assert settled["total_fen"] == order["total_fen"]
    assert settled["fund_fen"] + settled["personal_fen"] == settled["total_fen"]
    assert _settlement_metrics("settlement") == (
        counted + 1,
        total + settled["total_fen"],
        fund + settled["fund_fen"],
        personal + settled["personal_fen"],
    )


async def test_a_failure_after_hand_over_is_refused_and_reverses_nothing(
    client, world: World
) -> None:
    # After hand-over the patient has the drugs: failing the order would refund them for
    # nothing. That way back is closed; the quality return (boxes back first) reverses.
    order = await ordered(client, world, fulfilment="pickup")
    await _hand_over_at_counter(client, world, order)
    response = await client.post(
        f"{ORDERS}/{order['id']}/fail",
        json={"reason": "患者发现药品包装破损"},
        headers=world.as_("pharmacist"),
    )
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"
    [settled] = await _settlements(client, world, order["id"])
    assert settled["kind"] == "settlement"


async def test_a_completed_quality_return_reverses_the_settlement(client, world: World) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    await _hand_over_at_counter(client, world, order)
    url = await quality_returned(client, world, order, complete=False)
    counted, total, fund, personal = _settlement_metrics("reversal")
    await ok(await client.post(f"{url}/complete", headers=world.as_("pharmacist")))
    rows = await _settlements(client, world, order["id"])
    assert sorted(r["kind"] for r in rows) == ["reversal", "settlement"]
    assert sum(r["total_fen"] for r in rows) == 0
    assert sum(r["fund_fen"] for r in rows) == 0
    [settled] = [r for r in rows if r["kind"] == "settlement"]
    # The reversal counts what it gives back, as a positive amount under its own kind.
    assert _settlement_metrics("reversal") == (
        counted + 1,
        total + settled["total_fen"],
        fund + settled["fund_fen"],
        personal + settled["personal_fen"],
    )


async def test_an_order_the_insurance_cannot_price_is_refused(
    client, world: World, db_session
) -> None:
    # Verified resident-insured (390): the world only has a rule for employees (310).
    await factories.insured(db_session, world.patient, insurance_type="390")
    prescription_id = await approved(client, world)
    response = await client.post(
        ORDERS,
        json={
            "prescription_id": prescription_id,
            "store_id": str(world.store.id),
            "fulfilment": "pickup",
        },
        headers={**world.as_("patient"), "Idempotency-Key": "order-no-rule"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "benefit_rule_missing"
    prescription = await db_session.get(Prescription, uuid.UUID(prescription_id))
    await db_session.refresh(prescription)
    assert prescription.status == "approved"
    mine = select(Settlement).where(Settlement.patient_id == world.patient.id)
    assert (await db_session.scalars(mine)).all() == []
