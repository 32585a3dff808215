"""The sign-in number (9001): taken once a day for every process, renewed on the next
Asia/Shanghai day and when older than the configured age, and sent in every envelope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.insurance_platform.client import HttpInsurancePlatform
from app.kit.clock import frozen_at
from app.models import PlatformSignIn
from tests.fixtures import factories
from tests.insurance_platform.conftest import add_person, received

# 09:00 in Beijing.
MORNING = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


async def _sign_ins(platform_http) -> list[str]:
    return [m["sign_no"] for m in await received(platform_http) if m["infno"] == "9001"]


async def _query(platform, platform_http) -> str:
    certno = factories.resident_id()
    await add_person(platform_http, certno, "390")
    await platform.call("1101", {"data": {"certno": certno}}, insured_area="140300")
    return str((await received(platform_http))[-1]["sign_no"])


async def test_one_sign_in_serves_every_process_all_day(
    platform, platform_http, platform_settings, sessionmaker, db_session
) -> None:
    other_process = HttpInsurancePlatform(platform_http, platform_settings, sessionmaker)
    with frozen_at(MORNING):
        first = await _query(platform, platform_http)
    with frozen_at(MORNING + timedelta(hours=3)):
        second = await _query(other_process, platform_http)
        third = await _query(platform, platform_http)
    nines = [m for m in await received(platform_http) if m["infno"] == "9001"]
    assert len(nines) == 1
    assert first == second == third != ""
    kept = (await db_session.scalars(select(PlatformSignIn))).all()
    assert [(k.sign_no, k.generation, k.msgid) for k in kept] == [(first, 1, nines[0]["msgid"])]


async def test_the_next_day_signs_in_again(platform, platform_http) -> None:
    # 23:59 and 00:01 in Beijing: two days, two sign-ins, though only two minutes apart.
    with frozen_at(datetime(2026, 12, 7, 15, 59, tzinfo=UTC)):
        today = await _query(platform, platform_http)
    with frozen_at(datetime(2026, 12, 7, 16, 1, tzinfo=UTC)):
        tomorrow = await _query(platform, platform_http)
    assert today != tomorrow
    assert len(await _sign_ins(platform_http)) == 2


async def test_an_aged_sign_in_is_renewed_within_the_day(
    platform, platform_http, platform_settings, db_session
) -> None:
    hours = platform_settings.insurance_platform_sign_in_max_age_hours
    with frozen_at(MORNING):
        first = await _query(platform, platform_http)
    with frozen_at(MORNING + timedelta(hours=hours, seconds=1)):
        renewed = await _query(platform, platform_http)
    assert first != renewed
    generations = await db_session.scalars(
        select(PlatformSignIn.generation).order_by(PlatformSignIn.generation)
    )
    assert list(generations) == [1, 2]


async def test_a_sign_in_lost_to_another_process_adopts_the_winner(
    platform, platform_http, platform_settings, sessionmaker, db_session
) -> None:
    with frozen_at(MORNING):
        # Another process signed in and kept its number between this one's look and its keep.
        winner = PlatformSignIn(
            fixmedins_code=platform_settings.insurance_platform_fixmedins_code,
            opter=platform_settings.insurance_platform_opter,
            sign_date=MORNING.date(),
            generation=1,
            sign_no="WINNER",
            signed_at=MORNING,
            msgid="H1403000000120261207090000" + "0001",
        )
        original = platform._exchange

        async def exchange_then_lose(*args, **kwargs):
            result = await original(*args, **kwargs)
            async with sessionmaker() as other:
                other.add(winner)
                await other.commit()
            return result

        platform._exchange = exchange_then_lose
        assert await platform.sign_no() == "WINNER"
