"""The patient's quote is the platform's pre-settlement (2206) where the platform is
configured: a visit is registered with its fees for it and withdrawn again, and its split is
kept beside the local estimate. A refusal refuses the order; no answer leaves the local
estimate, marked so. The hand-over's 2207 books what 2206 quoted."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.models import PharmacyOrder, PlatformSettlement, Presettlement, Settlement
from tests.insurance_platform.conftest import behave, hand_over, received
from tests.prescription.world import World, approved, ok, ordered, picked

ORDERS = "/api/v1/orders"
QUOTE_EXCHANGE = ["1101", "2201", "2203", "2204", "2206", "2205", "2202"]


async def _quote(client, world: World, order: dict, language: str = "zh-CN") -> dict:
    return await ok(
        await client.get(
            f"/api/v1/insurance/orders/{order['id']}/quote",
            headers={**world.as_("patient"), "Accept-Language": language},
        )
    )


async def _stored(db_session, order: dict) -> Presettlement:
    row = await db_session.scalar(
        select(Presettlement).where(Presettlement.order_id == uuid.UUID(order["id"]))
    )
    assert row is not None
    return row


async def _open(platform_http) -> dict:
    return dict((await platform_http.get("/_control/open")).json())


async def test_the_quote_is_the_platforms_presettlement_and_hand_over_books_it(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    assert [m["infno"] for m in await received(platform_http)][-7:] == QUOTE_EXCHANGE
    presettle = (await received(platform_http))[-3]["input"]["data"]
    assert presettle["med_type"] == "14" and presettle["psn_setlway"] == "01"
    # Withdrawn again: the quote leaves no open visit or fee batch on the platform.
    assert await _open(platform_http) == {"visits": [], "fee_batches": []}
    quote = await _quote(client, world, order)
    platform = quote["platform"]
    assert platform["status"] == "presettled"
    assert platform["total_fen"] == quote["total_fen"]
    assert (platform["fund_fen"], platform["fund_difference_fen"]) == (quote["fund_fen"], 0)
    assert "医保信息平台预结算" in platform["note"]

    await picked(client, world, order)
    await ok(await hand_over(client, world, order))
    local = await db_session.scalar(
        select(Settlement).where(Settlement.order_id == uuid.UUID(order["id"]))
    )
    assert local is not None
    settled = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == local.id)
    )
    assert settled is not None
    # 2206 quoted what 2207 booked.
    assert (platform["total_fen"], platform["fund_fen"]) == (settled.total_fen, settled.fund_fen)
    assert (platform["account_fen"], platform["cash_fen"]) == (
        settled.account_fen,
        settled.cash_fen,
    )


async def test_a_presettlement_that_differs_is_shown_beside_the_estimate(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    await behave(platform_http, fund_delta_fen=137)
    order = await ordered(client, world, fulfilment="pickup")
    quote = await _quote(client, world, order, "en")
    platform = quote["platform"]
    assert platform["fund_fen"] == quote["fund_fen"] + 137
    assert platform["fund_difference_fen"] == 137
    assert (
        platform["account_fen"] + platform["cash_fen"] == quote["total_fen"] - platform["fund_fen"]
    )
    assert platform["note"].startswith("Insurance platform pre-settlement")
    stored = await _stored(db_session, order)
    assert stored.platform_msgid == (await received(platform_http))[-3]["msgid"]


async def test_a_refused_presettlement_refuses_the_order_and_leaves_no_visit(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    prescription_id = await approved(client, world)
    await behave(platform_http, refuse_with="该人员慢特病待遇未备案", refuse_only="2206")
    answer = await client.post(
        ORDERS,
        json={
            "prescription_id": prescription_id,
            "store_id": str(world.store.id),
            "fulfilment": "pickup",
        },
        headers={**world.as_("patient"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "insurance_platform_refused"
    assert answer.json()["err_msg"] == "该人员慢特病待遇未备案"
    orders = await db_session.scalars(
        select(PharmacyOrder).where(PharmacyOrder.prescription_id == uuid.UUID(prescription_id))
    )
    assert orders.all() == []
    assert await _open(platform_http) == {"visits": [], "fee_batches": []}


async def test_a_late_presettlement_quotes_the_local_estimate_marked_so(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    await behave(platform_http, lose_answer_of="2206")
    order = await ordered(client, world, fulfilment="pickup")
    quote = await _quote(client, world, order)
    assert quote["platform"]["status"] == "unavailable"
    assert quote["platform"]["fund_fen"] is None
    assert "估算" in quote["platform"]["note"]
    assert quote["fund_fen"] == (await _stored(db_session, order)).fund_fen
    # The visit opened for it is withdrawn all the same.
    assert await _open(platform_http) == {"visits": [], "fee_batches": []}
