"""Hand-overs of one order sent at once, with the insurance platform (the app's own fake)
configured and answering another split than the local rules: one settlement, one platform
settlement, and what is booked is the platform's split."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.insurance_platform.fake import FAKE_PLATFORM_PATH
from app.ledger.posting import Account
from app.models import LedgerEntry, PlatformSettlement, Settlement
from tests.fixtures.races import RaceServer, race, race_server
from tests.fixtures.servers import free_port
from tests.prescription.world import World, build, dispatched, ok, ordered
from tests.races.conftest import committed

pytestmark = pytest.mark.postgres

DELTA = 137


@pytest.fixture(scope="module")
async def platform_server() -> AsyncIterator[RaceServer]:
    """The service, settling with the insurance platform fake it serves itself."""
    port = free_port()
    # One port, tried once (the settings name it): the start may take long on a busy machine.
    async with race_server(
        port,
        90.0,
        fake_insurance_platform_enabled="true",
        insurance_platform_url=f"http://127.0.0.1:{port}{FAKE_PLATFORM_PATH}/",
    ) as running:
        yield running


async def test_concurrent_hand_overs_settle_once_on_the_platforms_split(
    platform_server: RaceServer,
) -> None:
    server = platform_server

    async def build_world(session: AsyncSession) -> World:
        return await build(session, server.settings)

    world = await committed(server, build_world)
    order = await ordered(server.http, world)
    await dispatched(server.http, world, order)
    control = f"{FAKE_PLATFORM_PATH}/_control"
    behaviour = await server.http.put(f"{control}/behaviour", json={"fund_delta_fen": DELTA})
    assert behaviour.status_code == 204, behaviour.text
    url = f"/api/v1/orders/{order['id']}"
    code = (await ok(await server.http.get(url, headers=world.as_("patient"))))["handover_code"]
    result = await race(
        server.http, "POST", f"{url}/handover", json={"code": code}, headers=world.as_("courier")
    )
    result.one_winner()
    async with server.sessionmaker() as session:
        [local] = (
            await session.scalars(
                select(Settlement).where(Settlement.order_id == uuid.UUID(order["id"]))
            )
        ).all()
        [kept] = (
            await session.scalars(
                select(PlatformSettlement).where(PlatformSettlement.settlement_id == local.id)
            )
        ).all()
        ledger: dict[str, int] = defaultdict(int)
        for entry in await session.scalars(
            select(LedgerEntry).where(LedgerEntry.settlement_id == local.id)
        ):
            ledger[entry.account] += entry.amount_fen
    settled = (await server.http.get(f"{control}/settlements")).json()
    assert [s["setl_id"] for s in settled if not s["undone"]] == [kept.setl_id]
    assert kept.fund_difference_fen == DELTA
    assert (local.fund_fen, local.cash_fen) == (kept.fund_fen, kept.cash_fen)
    assert ledger[Account.fund_receivable] == kept.fund_fen
    assert ledger[Account.patient_receivable] == kept.cash_fen
