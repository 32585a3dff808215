"""The service behind PgBouncer in transaction mode (PostgreSQL + Redis, real processes).

Two web processes and a worker process share nothing but PostgreSQL (through a PgBouncer of
the test's own, whose few server sessions every client connection's transactions take turns
on) and Redis: readings uploaded on both web processes are rolled up by the worker, a chat
message written on one reaches a socket on the other, and identical creates sent at once to
both answer one 201 and otherwise 409. And the setting is what makes it work: the same
requests without it fail on prepared statements.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.config import Environment, Settings
from app.db import create_engine
from app.kit.clock import utcnow
from app.models import Account, CgmDaily, ReadingLatest, Role
from tests.faults.conftest import FaultDb, practice, service_env
from tests.fixtures import databases, factories
from tests.fixtures.races import race_all
from tests.fixtures.servers import PROJECT_ROOT, start_uvicorn, wait_until
from tests.realtime.clients import authed, ws_url
from tests.scaleout.pgbouncer import missing_reason, pgbouncer, through

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or ""),
]

BATCHES = 6  # readings uploads per patient, alternating between the two web processes
BATCH = 12  # CGM points per upload


def _pooled(url: str, port: int, **env: str) -> dict[str, str]:
    """A service process's environment: the database through the PgBouncer on `port`."""
    return service_env(
        through(url, port),
        redis_url=databases.REDIS_URL or "",
        database_transaction_pooler="true",
        db_pool_size="8",
        **env,
    )


@asynccontextmanager
async def _worker(env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m app.worker` as its own process (its output kept for a failure's message)."""
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.worker", cwd=PROJECT_ROOT,
        env={**os.environ, **env}, stdout=output, stderr=output,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()
        output.seek(0)
        tail = output.read()[-3000:].decode(errors="replace")
        output.close()
        assert "job failed" not in tail, tail


async def test_web_and_worker_processes_work_through_pgbouncer(fault_db: FaultDb) -> None:
    people = await practice(fault_db, 3)
    doctor, patients = people.doctor, people.patients
    async with fault_db.sessionmaker() as session:
        admin = await factories.bearer(
            session, fault_db.settings, await factories.account(session, Role.admin)
        )
        hospital = (await factories.institution(session)).code
        await session.commit()
    assert databases.POSTGRES_SERVER_URL is not None
    async with pgbouncer(databases.POSTGRES_SERVER_URL, pool_size=3) as port:
        web = _pooled(fault_db.url, port)
        worker = _pooled(
            fault_db.url,
            port,
            database_direct_url=fault_db.url,
            cgm_rollup_interval_seconds="0.5",
        )
        async with (
            start_uvicorn(web, startup_timeout=90) as first,
            start_uvicorn(web, startup_timeout=90) as second,
            _worker(worker),
            httpx.AsyncClient(base_url=first.url, timeout=30) as on_first,
            httpx.AsyncClient(base_url=second.url, timeout=30) as on_second,
            AsyncExitStack() as sockets,
        ):
            webs = (on_first, on_second)
            # Readings on both processes at once; the worker rolls every one of them up.
            start = utcnow() - timedelta(minutes=5 * BATCH * BATCHES + 30)

            async def uploads(n: int) -> list[httpx.Response]:
                who = patients[n]
                return [
                    await webs[(n + b) % 2].post(
                        "/api/v1/readings",
                        json=who.cgm_batch(start + timedelta(minutes=5 * BATCH * b), BATCH),
                        headers=who.headers,
                    )
                    for b in range(BATCHES)
                ]

            answers = [r for rs in await asyncio.gather(*map(uploads, range(3))) for r in rs]
            assert [r.status_code for r in answers] == [200] * len(answers), answers[0].text
            assert sum(r.json()["accepted"] for r in answers) == 3 * BATCHES * BATCH
            ids = [p.patient_id for p in patients]

            async def rolled_up() -> bool:
                async with fault_db.sessionmaker() as session:
                    stale = await session.scalar(
                        select(func.count()).where(
                            ReadingLatest.patient_id.in_(ids), ReadingLatest.stale_from.isnot(None)
                        )
                    )
                    counted = await session.scalar(
                        select(func.sum(CgmDaily.readings)).where(CgmDaily.patient_id.in_(ids))
                    )
                return stale == 0 and counted == 3 * BATCHES * BATCH

            await wait_until(rolled_up, within=60, interval=0.2, what="the worker's rollups")

            # A chat message written on the second process reaches a socket on the first.
            patient = patients[0]
            patient_ws = await sockets.enter_async_context(authed(ws_url(first.url), patient.user))
            sent = await on_second.post(
                f"/api/v1/chat/conversations/{patient.conversation_id}/messages",
                json={"client_msg_id": "pgb-1", "text": "经连接池：今天血糖怎么样？"},
                headers=doctor.headers,
            )
            assert sent.status_code == 201, sent.text
            async with asyncio.timeout(15):
                while True:
                    event = json.loads(await patient_ws.recv())
                    if event["type"] == "chat.message":
                        break
            assert event["message"]["body"]["text"] == "经连接池：今天血糖怎么样？"

            # Identical creates at once on both processes: one account, the rest 409.
            username = f"dr.pgb-{uuid.uuid4().hex[:8]}"
            body = {
                "role": "doctor", "username": username, "display_name": "连接池医生",
                "institution_code": hospital, "department_zh": "内科", "title_zh": "主治医师",
            }  # fmt: skip
            request: dict[str, Any] = {"json": body, "headers": admin}
            race = await race_all(
                on_first,
                [("POST", f"{url}/api/v1/staff", request) for url in (first.url, second.url) * 3],
            )
            assert race.one_winner("staff_username_taken").status_code == 201
            accounts = select(func.count()).where(Account.username == username)
            assert await fault_db.scalar(accounts) == 1


async def _many_transactions(url: str, pooler: bool) -> None:
    """40 concurrent sessions, each running a few statements in several transactions."""
    settings = Settings(
        APP_ENV=Environment.test,
        database_url=url,
        database_transaction_pooler=pooler,
        background_jobs_enabled=False,
        db_pool_size=10,
    )
    engine = create_engine(settings)

    async def one(n: int) -> None:
        for round_ in range(5):
            async with engine.connect() as connection:
                statement = text("SELECT count(*) FROM accounts WHERE display_name = :n")
                await connection.scalar(statement, {"n": f"{n}-{round_}"})
                await connection.scalar(text("SELECT CAST(:x AS integer) + 1"), {"x": n})
                await connection.commit()

    try:
        await asyncio.gather(*map(one, range(40)))
    finally:
        await engine.dispose()


async def test_without_the_setting_prepared_statements_break_behind_pgbouncer(
    fault_db: FaultDb,
) -> None:
    assert databases.POSTGRES_SERVER_URL is not None
    async with pgbouncer(databases.POSTGRES_SERVER_URL, pool_size=2) as port:
        url = through(fault_db.url, port)
        await _many_transactions(url, pooler=True)
        with pytest.raises(DBAPIError, match="prepared statement"):
            await _many_transactions(url, pooler=False)
