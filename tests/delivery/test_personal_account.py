"""An employee's personal account (个人账户) pays the personal share when the patient chooses
it: only for a verified employee-insured (310) identity with an account, never beyond what the
account holds, and a reversal gives the account its part back."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from app.identity import service as identity_service
from app.models import PharmacyOrder
from tests.delivery.test_settlement_link import _hand_over_at_counter, _settlements
from tests.fixtures import factories
from tests.prescription.world import World, approved, ok, quality_returned

ORDERS = "/api/v1/orders"
INSURANCE = "/api/v1/insurance"
BALANCE = 1_000


async def _order(client, world: World, *, account: bool, expect: int = 201):
    prescription_id = await approved(client, world)
    response = await client.post(
        ORDERS,
        json={
            "prescription_id": prescription_id,
            "store_id": str(world.store.id),
            "fulfilment": "pickup",
            "pay_from_personal_account": account,
        },
        headers={**world.as_("patient"), "Idempotency-Key": f"order-{uuid.uuid4().hex}"},
    )
    assert response.status_code == expect, response.text
    return response.json()


async def test_the_chosen_account_pays_and_a_reversal_gives_it_back(
    client, db_session, world: World
) -> None:
    identity = await factories.insured(
        db_session, world.patient, insurance_type="310", personal_account_balance_fen=BALANCE
    )
    order = await _order(client, world, account=True)
    quote = await ok(
        await client.get(f"{INSURANCE}/orders/{order['id']}/quote", headers=world.as_("patient"))
    )
    assert quote["account_fen"] == min(BALANCE, quote["personal_fen"]) > 0
    await _hand_over_at_counter(client, world, order)
    [settled] = await _settlements(client, world, order["id"])
    assert settled["account_fen"] == quote["account_fen"]
    assert settled["cash_fen"] == settled["personal_fen"] - settled["account_fen"]
    assert await identity_service.account_available_fen(db_session, identity) == (
        BALANCE - settled["account_fen"]
    )
    await quality_returned(client, world, order)
    rows = await _settlements(client, world, order["id"])
    assert sum(r["account_fen"] for r in rows) == 0
    assert await identity_service.account_available_fen(db_session, identity) == BALANCE


async def test_without_the_choice_the_account_is_untouched(
    client, db_session, world: World
) -> None:
    identity = await factories.insured(
        db_session, world.patient, insurance_type="310", personal_account_balance_fen=BALANCE
    )
    order = await _order(client, world, account=False)
    await _hand_over_at_counter(client, world, order)
    [settled] = await _settlements(client, world, order["id"])
    assert settled["account_fen"] == 0
    assert await identity_service.account_available_fen(db_session, identity) == BALANCE


async def test_a_resident_cannot_pay_from_an_account(client, db_session, world: World) -> None:
    await factories.insured(db_session, world.patient, insurance_type="390")
    refused = await _order(client, world, account=True, expect=409)
    assert refused["code"] == "personal_account_unavailable"
    assert (
        await db_session.scalar(
            select(func.count()).where(PharmacyOrder.patient_id == world.patient.id)
        )
        == 0
    )
