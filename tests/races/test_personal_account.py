"""An employee's personal account (个人账户) under concurrent hand-overs: two orders that each
chose the account, handed over at the same moment, never spend more than the account holds."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import InsuredIdentity, Settlement
from tests.fixtures import factories
from tests.fixtures.races import RaceServer, race_all
from tests.prescription.world import World, approved, build, dispatched, item, ok, rx_body
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres

ORDERS = "/api/v1/orders"
BALANCE = 500  # less than either order's personal share: each alone could take all of it


async def _order_from_the_account(
    server: RaceServer, world: World, body: dict[str, Any]
) -> dict[str, Any]:
    prescription_id = await approved(server.http, world, body)
    order = await ok(
        await server.http.post(
            ORDERS,
            json={
                "prescription_id": prescription_id,
                "store_id": str(world.store.id),
                "pay_from_personal_account": True,
            },
            headers={**world.as_("patient"), "Idempotency-Key": f"order-{uuid.uuid4().hex}"},
        ),
        201,
    )
    quote = await ok(
        await server.http.get(
            f"/api/v1/insurance/orders/{order['id']}/quote", headers=world.as_("patient")
        )
    )
    assert quote["account_fen"] == BALANCE < quote["personal_fen"]  # the quote takes it all
    await dispatched(server.http, world, order)
    return order


async def test_two_hand_overs_at_once_never_overdraw_the_personal_account(
    server: RaceServer,
) -> None:
    async def employee_world(session: AsyncSession) -> tuple[World, InsuredIdentity]:
        world = await build(session, server.settings, packs=50)
        identity = await factories.insured(
            session, world.patient, insurance_type="310", personal_account_balance_fen=BALANCE
        )
        return world, identity

    world, identity = await committed(server, employee_world)
    # Two prescriptions of different drug classes (a second biguanide would be duplicate therapy).
    bodies = [rx_body(world), rx_body(world, item(world.drugs.acarbose, "1", "tid"))]
    orders = [await _order_from_the_account(server, world, body) for body in bodies]
    requests = []
    for order in orders:
        url = f"{ORDERS}/{order['id']}"
        code = (await ok(await server.http.get(url, headers=world.as_("patient"))))["handover_code"]
        requests.append(
            ("POST", f"{url}/handover", {"json": {"code": code}, "headers": world.as_("courier")})
        )

    result = await race_all(server.http, requests)

    result.no_server_errors()
    assert [r.status_code for r in result.responses] == [200, 200], result.responses
    async with server.sessionmaker() as session:
        settled = list(
            await session.scalars(
                select(Settlement).where(
                    Settlement.order_id.in_([uuid.UUID(o["id"]) for o in orders])
                )
            )
        )
    assert len(settled) == 2 and {s.insured_identity_id for s in settled} == {identity.id}
    # One took the whole balance, the other found it spent and is paid in cash instead.
    assert sorted(s.account_fen for s in settled) == [0, BALANCE]
    for s in settled:
        assert s.cash_fen == s.personal_fen - s.account_fen
