"""The whole loop against real uvicorn processes, driven by the demo journey exactly as
the clients drive it: sign-in to payment while the month is open, then the service restarted
with its clock in the next month (CLOCK_OFFSET_SECONDS) and the bureau's statement.

On PostgreSQL + Redis two processes serve one database: the patient's apps talk to one, the
staff's apps to the other, so every live event the journey waits for (chat both ways, the store
board's new order, the courier's position) crosses processes through Redis. On SQLite one process
serves (README command 2 runs it).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app import wiring
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.demo.journey import STEPS, JourneyResult, Narrator, close_month, main, run_journey
from app.demo.seed import load_demo_data
from app.insurance.statements import month_window
from app.models import PlatformSettlement
from tests.fixtures import databases
from tests.fixtures.servers import free_port, run_uvicorn

STEP_KEYS = [key for key, _ in STEPS]


async def _seed(database_url: str) -> None:
    """`python -m app.cli migrate` and `seed-demo` on a fresh database (wired, as the CLI
    seeds: the demo month's reversal refunds through a subscriber)."""
    wiring.wire()
    await databases.migrate(database_url)
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with create_sessionmaker(engine)() as session:
            await load_demo_data(session)
            await session.commit()
    finally:
        await engine.dispose()


@asynccontextmanager
async def _service(
    database_url: str,
    ports: list[int],
    blob_dir: Path,
    redis_url: str | None = None,
    clock_offset_seconds: float = 0.0,
) -> AsyncIterator[list[str]]:
    """The service as processes on `ports` sharing one database, Redis and blob store; the
    first relays the outbox. Each reaches its own fake WeChat and WeChat Pay. On PostgreSQL all
    settle with the insurance platform: the fake the last process (the staff's) serves, its
    state living there."""
    platform = (
        {}
        if database_url.startswith("sqlite")
        else {
            "FAKE_INSURANCE_PLATFORM_ENABLED": "true",
            "INSURANCE_PLATFORM_URL": f"http://127.0.0.1:{ports[-1]}/_dev/insurance-platform/",
        }
    )
    async with AsyncExitStack() as stack:
        urls = []
        for index, port in enumerate(ports):
            own = f"http://127.0.0.1:{port}"
            env = {
                "DATABASE_URL": database_url,
                "BLOB_DIR": str(blob_dir),
                "WECHAT_API_BASE": f"{own}/_dev/wechat",
                # Notifications as subscription messages (SMS fallback) through its own fakes.
                "PUSH_PROVIDER": "wechat",
                "SMS_API_BASE": f"{own}/_dev/sms",
                "PAYMENT_NOTIFY_BASE_URL": own,
                "OUTBOX_RELAY_ENABLED": str(index == 0).lower(),
                "CLOCK_OFFSET_SECONDS": str(clock_offset_seconds),
                **({"REDIS_URL": redis_url} if redis_url else {}),
                **platform,
            }
            urls.append(await stack.enter_async_context(run_uvicorn(env, port)))
        yield urls


async def _wait_for_message(base_url: str, template_id: str, within: float = 30.0) -> None:
    """Until the fake WeChat has delivered a subscription message of `template_id`."""
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient(base_url=base_url) as http:
        while True:
            sent = (await http.get("/_dev/wechat/_control/sent")).json()["messages"]
            if any(message["template_id"] == template_id for message in sent):
                return
            assert asyncio.get_running_loop().time() < deadline, f"no {template_id} in {sent}"
            await asyncio.sleep(0.2)


async def _whole_loop(
    database_url: str, ports: list[int], blob_dir: Path, redis_url: str | None = None
) -> tuple[JourneyResult, dict[str, Any], list[str]]:
    """The journey with the month open, then the month close after a restart in the next month."""
    account: list[str] = []

    def tell(line: str) -> None:
        account.append(line)
        print(line)  # shown by pytest when the journey fails

    async with _service(database_url, ports, blob_dir, redis_url) as urls:
        result = await run_journey(urls[0], urls[-1], out=tell)
        # The first process relays the outbox, through its own fake WeChat.
        await _wait_for_message(urls[0], "dev-tpl-order-dispatched")
        if not database_url.startswith("sqlite"):
            await _assert_settled_on_the_platform(urls[-1], database_url, result.settlement_id)
    # The settlement's month has ended once the clock reads five minutes into the next one.
    _, month_end = month_window(result.month)
    offset = (month_end + timedelta(minutes=5) - datetime.now(UTC)).total_seconds()
    say = Narrator(tell)
    async with (
        _service(database_url, ports, blob_dir, redis_url, offset) as urls,
        httpx.AsyncClient(base_url=urls[-1], timeout=30.0) as http,
    ):
        say.step("month_close")
        statement = await close_month(http, result.month, result.settlement_id, say)
        say.done()
    assert statement is not None, "\n".join(account)
    return result, statement, account


async def _assert_settled_on_the_platform(
    platform_host: str, database_url: str, settlement_id: str
) -> None:
    """The hand-over's settlement carries the platform's `setl_id`, and the platform booked it."""
    engine = create_engine(Settings(database_url=database_url))
    try:
        async with create_sessionmaker(engine)() as session:
            kept = await session.scalar(
                select(PlatformSettlement).where(
                    PlatformSettlement.settlement_id == uuid.UUID(settlement_id)
                )
            )
    finally:
        await engine.dispose()
    assert kept is not None and kept.setl_id
    async with httpx.AsyncClient(base_url=platform_host) as http:
        booked = (await http.get("/_dev/insurance-platform/_control/settlements")).json()
    assert kept.setl_id in str(booked)


def _assert_whole_loop(
    result: JourneyResult, statement: dict[str, Any], account: list[str]
) -> None:
    # Sign-in to payment in one go; the month close waits for the month to end (unless the run
    # straddled midnight at the month's end, when the statement could already be made).
    assert result.completed == (STEP_KEYS if result.statement else STEP_KEYS[:-1])
    if result.statement is None:
        assert any("statement_month_open" in line for line in account)
    assert statement["month"] == result.month
    assert statement["institution_id"] == result.institution_id
    [line] = [line for line in statement["lines"] if line["id"] == result.settlement_id]
    assert line["kind"] == "settlement" and line["cash_fen"] > 0
    assert line["total_fen"] == line["fund_fen"] + line["account_fen"] + line["cash_fen"]
    assert any("微信支付" in line for line in account)


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_whole_loop_across_two_processes_on_postgres_and_redis(tmp_path) -> None:
    database_url = await databases.create_database()
    try:
        await _seed(database_url)
        result, statement, account = await _whole_loop(
            database_url, [free_port(), free_port()], tmp_path / "blobs", databases.REDIS_URL
        )
    finally:
        await databases.drop_database(database_url)
    _assert_whole_loop(result, statement, account)


@pytest.mark.sqlite_file
async def test_the_whole_loop_on_sqlite(tmp_path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'journey.db'}"
    await _seed(database_url)
    result, statement, account = await _whole_loop(database_url, [free_port()], tmp_path / "blobs")
    _assert_whole_loop(result, statement, account)


def test_an_unreachable_service_fails_the_first_step_with_a_clear_message(capsys) -> None:
    assert main(["--base-url", f"http://127.0.0.1:{free_port()}"]) == 1
    printed = capsys.readouterr()
    assert "[ 1/15]" in printed.out
    assert "无法连接" in printed.err and "Traceback" not in printed.err
