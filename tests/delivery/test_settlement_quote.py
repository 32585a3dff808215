"""After hand-over the patient's quote is the settled split (and says so); settlement lines
follow the prescription's line order."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from app.insurance.rules import rule_for
from app.kit.clock import city_date, utcnow
from app.models import BenefitRule, PharmacyOrderLine, PrescriptionItem
from tests.delivery.test_settlement_link import _hand_over_at_counter
from tests.prescription.world import World, item, ok, ordered, quality_returned, rx_body

ORDERS = "/api/v1/orders"
INSURANCE = "/api/v1/insurance"


async def _two_line_order(client, db_session, world: World) -> dict:
    body = rx_body(world, item(world.drugs.metformin), item(world.drugs.acarbose))
    order = await ordered(client, world, body, fulfilment="pickup")
    # Give the first prescription line the larger order-line id, so id order is line order
    # reversed whatever uuid4 drew.
    rows = (
        await db_session.execute(
            select(PharmacyOrderLine.id, PrescriptionItem.line_no)
            .join(PrescriptionItem, PrescriptionItem.id == PharmacyOrderLine.prescription_item_id)
            .where(PharmacyOrderLine.order_id == uuid.UUID(order["id"]))
        )
    ).all()
    for line_id, line_no in rows:
        await db_session.execute(
            update(PharmacyOrderLine)
            .where(PharmacyOrderLine.id == line_id)
            .values(id=uuid.UUID(int=(1 << 127) - line_no))
        )
    await db_session.flush()
    return order


async def test_settlement_lines_follow_the_prescription_line_order(
    client, db_session, world: World
) -> None:
    order = await _two_line_order(client, db_session, world)
    await _hand_over_at_counter(client, world, order)
    page = await ok(await client.get(f"{INSURANCE}/settlements", headers=world.as_("patient")))
    [settled] = [s for s in page["items"] if s["order_id"] == order["id"]]
    detail = await ok(
        await client.get(f"{INSURANCE}/settlements/{settled['id']}", headers=world.as_("patient"))
    )
    assert [i["drug_id"] for i in detail["items"]] == [
        str(world.drugs.metformin.id),
        str(world.drugs.acarbose.id),
    ]
    assert [i["line_no"] for i in detail["items"]] == [1, 2]


async def test_after_hand_over_the_quote_is_the_settled_split(
    client, db_session, world: World
) -> None:
    order = await _two_line_order(client, db_session, world)
    quote_url = f"{INSURANCE}/orders/{order['id']}/quote"
    before = await ok(await client.get(quote_url, headers=world.as_("patient")))
    assert (before["basis"], before["settlement_id"]) == ("presettlement", None)
    # The bureau drops the deductible today: hand-over settles under it, not under the quote.
    rule = await rule_for(db_session, "310", world.disease.id, "tertiary", utcnow())
    today = city_date()
    versions = await db_session.scalars(
        select(BenefitRule.version).where(
            BenefitRule.disease_id == world.disease.id, BenefitRule.year == today.year
        )
    )
    db_session.add(
        BenefitRule(
            insurance_type="310",
            disease_id=world.disease.id,
            institution_level="tertiary",
            year=today.year,
            version=max(versions, default=0) + 1,
            effective_from=today,
            deductible_fen=0,
            reimbursement_bp=9_500,
            partial_prepay_bp=rule.partial_prepay_bp,
        )
    )
    await db_session.flush()
    await _hand_over_at_counter(client, world, order)
    after = await ok(await client.get(quote_url, headers=world.as_("patient")))
    page = await ok(await client.get(f"{INSURANCE}/settlements", headers=world.as_("patient")))
    [settled] = [s for s in page["items"] if s["order_id"] == order["id"]]
    assert (after["basis"], after["settlement_id"], after["reversed"]) == (
        "settlement",
        settled["id"],
        False,
    )
    assert after["quote_id"] == before["quote_id"]
    assert after["fund_fen"] == settled["fund_fen"] != before["fund_fen"]
    assert after["cash_fen"] == settled["cash_fen"]
    assert [line["drug_id"] for line in after["lines"]] == [
        str(world.drugs.metformin.id),
        str(world.drugs.acarbose.id),
    ]


async def test_after_a_quality_return_the_quote_says_the_settlement_was_reversed(
    client, world: World
) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    await _hand_over_at_counter(client, world, order)
    quote_url = f"{INSURANCE}/orders/{order['id']}/quote"
    settled = await ok(await client.get(quote_url, headers=world.as_("patient")))
    assert (settled["basis"], settled["reversed"]) == ("settlement", False)
    await quality_returned(client, world, order)
    after = await ok(await client.get(quote_url, headers=world.as_("patient")))
    # The patient sees the sale they were refunded for as undone, not as a standing charge.
    assert (after["basis"], after["settlement_id"], after["reversed"]) == (
        "settlement",
        settled["settlement_id"],
        True,
    )
