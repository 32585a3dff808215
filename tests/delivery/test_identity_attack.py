"""Issue 14's attack: a resident-insured (390) patient, approved, tries to become an employee
(310) before hand-over so the fund pays the employee rule. The profile refuses the change, a
contrary declaration stops settlement, and what is settled is the quoted resident split."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select

from app.identity import repository as identity_repository
from app.kit.clock import city_date
from app.models import LedgerEntry, Settlement
from tests.delivery.test_settlement_link import _hand_over_at_counter, _settlements
from tests.fixtures import factories
from tests.insurance import world as insurance_world
from tests.prescription.world import World, ok, ordered, picked

INSURANCE = "/api/v1/insurance"
ORDERS = "/api/v1/orders"


async def _resident(db_session, world: World) -> None:
    """The world's patient verified (and declared) as resident-insured, under a resident rule
    that pays far less than the employee rule the world already has."""
    await factories.insured(db_session, world.patient, insurance_type="390")
    await insurance_world.rule(
        db_session,
        world.disease,
        insurance_type="390",
        effective_from=date(city_date().year, 1, 1),
        reimbursement_bp=3_000,
    )
    assert await identity_repository.bound_identity_id(db_session, world.entitlement.id)


async def _quote(client, world: World, order: dict) -> dict:
    url = f"{INSURANCE}/orders/{order['id']}/quote"
    return await ok(await client.get(url, headers=world.as_("patient")))


async def test_switching_to_employee_before_hand_over_changes_nothing(
    client, db_session, world: World
) -> None:
    await _resident(db_session, world)
    order = await ordered(client, world, fulfilment="pickup")
    quote = await _quote(client, world, order)
    for method in ("PATCH", "PUT"):
        tried = await client.request(
            method,
            "/api/v1/patients/me",
            json={"insurance_type": "310"},
            headers=world.as_("patient"),
        )
        assert tried.status_code == 422, tried.text
    await _hand_over_at_counter(client, world, order)
    [settled] = await _settlements(client, world, order["id"])
    assert settled["insurance_type"] == "390"
    assert settled["fund_fen"] == quote["fund_fen"]
    assert settled["personal_fen"] == quote["personal_fen"]


async def test_declaring_employee_before_hand_over_stops_settlement(
    client, db_session, world: World
) -> None:
    await _resident(db_session, world)
    order = await ordered(client, world, fulfilment="pickup")
    verified = (
        await ok(await client.get("/api/v1/patients/me/identity", headers=world.as_("patient")))
    )["verified"]
    declared = await client.post(
        "/api/v1/patients/me/identity/declarations",
        json={
            "national_id": verified["national_id"],
            "insurance_type": "310",
            "insured_area": verified["insured_area"],
        },
        headers=world.as_("patient"),
    )
    assert declared.status_code == 202
    await picked(client, world, order)
    url = f"{ORDERS}/{order['id']}"
    code = (await ok(await client.get(url, headers=world.as_("patient"))))["handover_code"]
    refused = await client.post(
        f"{url}/handover", json={"code": code}, headers=world.as_("pharmacist")
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "insured_identity_mismatch"
    assert refused.json()["fields"] == ["insurance_type"]
    order_id = uuid.UUID(order["id"])
    assert await db_session.scalar(select(func.count()).where(Settlement.order_id == order_id)) == 0
    assert (
        await db_session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .join(Settlement, Settlement.id == LedgerEntry.settlement_id)
            .where(Settlement.order_id == order_id)
        )
        == 0
    )
