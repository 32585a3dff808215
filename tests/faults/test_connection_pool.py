"""A process's PostgreSQL connections under load: the pool keeps the ones it opened (a burst
past it waits for one instead of opening and closing backends), and the work that takes a
second connection while it holds one (a periodic job's lock, the insurance platform client's
message log) takes it from a pool of its own, so it never waits on the requests' pool."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import event, text

from app import worker
from app.config import Environment, Settings
from app.db import create_engine, create_lock_engine, unit_of_work
from app.insurance_platform.fake import create_fake_insurance_platform_app
from app.main import create_app
from tests.fixtures import factories
from tests.fixtures.servers import serve_in_loop
from tests.reading.helpers import committed_database, committed_patient

pytestmark = pytest.mark.postgres


def _connections_opened(application: object) -> list[object]:
    """A list that grows by one each time the application's pool opens a connection."""
    opened: list[object] = []
    pool = application.state.engine.sync_engine.pool  # type: ignore[attr-defined]
    event.listen(pool, "connect", lambda connection, record: opened.append(record))
    return opened


def _served(
    settings: Settings, pool_size: int, *, jobs: bool = False, wait: float = 30, **values: object
) -> Settings:
    """`settings` with a pool of `pool_size` connections (waited for `wait` seconds) and the
    default overflow, running the periodic jobs or not, with `values` over them."""
    overflow = Settings.model_fields["db_max_overflow"].default
    return settings.model_copy(
        update={
            "background_jobs_enabled": jobs,
            "db_pool_size": pool_size,
            "db_max_overflow": overflow,
            "db_pool_timeout_seconds": wait,
            **values,
        }
    )


def test_by_default_the_pool_opens_no_connection_beyond_its_size() -> None:
    assert Settings(APP_ENV=Environment.test).db_max_overflow == 0


async def test_a_burst_past_the_pool_waits_for_its_connections_instead_of_opening_more() -> None:
    # 12 requests at once on a pool of 2: every one is served, by the 2 connections the pool
    # opened (an overflow connection would be a PostgreSQL backend opened and closed again).
    async with committed_database() as (settings, sessionmaker):
        _, headers = await committed_patient(sessionmaker, settings)
        pooled = _served(settings, 2)
        application = create_app(pooled)
        async with (
            serve_in_loop(application) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            opened = _connections_opened(application)
            for _ in range(3):
                answers = await asyncio.gather(
                    *(http.get("/api/v1/patients/me", headers=headers) for _ in range(12))
                )
                assert [a.status_code for a in answers] == [200] * 12
    assert len(opened) <= 2


async def test_the_jobs_of_a_web_process_leave_the_requests_their_connections() -> None:
    # Every job starts with the process: each holds its lock on a connection for the whole run
    # and works on others. Were the locks taken from the requests' pool of 2, the first two
    # jobs would hold both and wait for a third, and the requests would wait out the pool's
    # timeout (503 database_busy).
    async with committed_database() as (settings, sessionmaker):
        _, headers = await committed_patient(sessionmaker, settings)
        with_jobs = _served(settings, 2, jobs=True, wait=5, db_max_overflow=0)
        application = create_app(with_jobs)
        async with (
            serve_in_loop(application) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            answers = await asyncio.gather(
                *(http.get("/api/v1/patients/me", headers=headers) for _ in range(6))
            )
            ready = await http.get("/readyz")
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert ready.status_code == 200, ready.text


async def test_job_locks_have_a_pool_of_their_own_one_connection_per_job() -> None:
    async with committed_database() as (settings, _):
        engine = create_engine(settings)
        locks = create_lock_engine(settings, engine, len(worker.SCHEDULE))
        try:
            assert locks is not engine
            assert locks.pool.size() == len(worker.SCHEDULE)  # type: ignore[attr-defined]
            # Every job can hold its lock at once.
            held = [await locks.connect() for _ in worker.SCHEDULE]
            for connection in held:
                await connection.close()
        finally:
            await locks.dispose()
            await engine.dispose()


async def test_the_platform_client_logs_its_messages_while_requests_hold_every_connection() -> None:
    # The client stores each message it sends in a transaction of its own, while the caller's
    # (a hand-over's settlement, a person query) is open: with the caller holding the pool's
    # only connection, it must not wait on that pool.
    fake = create_fake_insurance_platform_app()
    certno = factories.resident_id()
    async with committed_database() as (settings, _), serve_in_loop(fake) as platform_url:
        async with httpx.AsyncClient(base_url=platform_url) as control:
            person = {"certno": certno, "insutype": "310", "insuplc_admdvs": "140300"}
            assert (await control.post("/_control/persons", json=person)).is_success
        url = f"{platform_url}/"
        tight = _served(settings, 1, wait=1, db_max_overflow=0, insurance_platform_url=url)
        application = create_app(tight)
        async with (
            application.router.lifespan_context(application),
            unit_of_work(application.state.sessionmaker) as caller,
        ):
            assert await caller.scalar(text("SELECT 1")) == 1  # the pool's one connection
            result = await application.state.insurance_platform.call(
                "1101", {"data": {"certno": certno}}, insured_area="140300"
            )
            logged = await caller.scalar(text("SELECT count(*) FROM insurance_platform_messages"))
    assert result.msgid
    assert logged >= 1
