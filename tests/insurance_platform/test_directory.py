"""The fake served in dev learns what it was not told from the service's database (verified
identities, benefit rules, drug classes), so the journey runs with it switched on untold."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.insurance_platform.fake import create_fake_insurance_platform_app
from app.insurance_platform.fake_directory import DatabaseDirectory
from app.models import PlatformSettlement, Settlement
from tests.insurance_platform.conftest import hand_over
from tests.prescription.world import World, build, ok, ordered, picked


@pytest.fixture
def fake_platform(sessionmaker):
    return create_fake_insurance_platform_app(DatabaseDirectory(lambda: sessionmaker))


@pytest.fixture
async def world(db_session, settings) -> World:
    """The pilot world, the fake told nothing about it."""
    return await build(db_session, settings)


async def test_the_journey_settles_on_a_fake_told_nothing(
    client, platform_app, platform_http, world: World, db_session
) -> None:
    order = await ordered(client, world, fulfilment="pickup")
    await picked(client, world, order)
    await ok(await hand_over(client, world, order))
    local = await db_session.scalar(
        select(Settlement).where(Settlement.order_id == uuid.UUID(order["id"]))
    )
    assert local is not None
    kept = await db_session.scalar(
        select(PlatformSettlement).where(PlatformSettlement.settlement_id == local.id)
    )
    assert kept is not None and kept.setl_id.startswith("A140300")
    # Same rules, same classes, same balance: the platform agrees with the estimate.
    assert (kept.total_fen, kept.fund_fen, kept.fund_difference_fen) == (
        local.total_fen,
        local.fund_fen,
        0,
    )
    assert kept.account_fen + kept.cash_fen == local.personal_fen
