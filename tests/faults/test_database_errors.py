"""Which failures mean "the database cannot be reached" (503, retry later) and which are a
statement going wrong (left alone: a conflict or a bug), with real PostgreSQL errors, and that
a unit of work reports the former as `DatabaseUnavailable`; a pool with no connection free in
time is `DatabaseBusy` (503 `database_busy`), not an outage. The same for the readings COPY,
which calls the driver around SQLAlchemy: a deadlock there is 409, a lost backend 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Environment, Settings
from app.db import (
    create_engine,
    database_busy,
    database_unreachable,
    driver_error,
    unit_of_work,
)
from app.errors import DatabaseBusy, DatabaseUnavailable, lost_a_race
from app.kit.clock import utcnow
from app.main import create_app
from app.models import Reading
from tests.fixtures import databases
from tests.fixtures.servers import serve_in_loop, wait_until
from tests.reading.helpers import cgm_item, committed_database, committed_patient, wearer

POOL_TIMEOUT = sa_exc.TimeoutError(
    "QueuePool limit of size 10 overflow 10 reached, connection timed out, timeout 30.00"
)


def dbapi_error(*, invalidated: bool) -> sa_exc.DBAPIError:
    return sa_exc.DBAPIError(
        "SELECT 1", None, Exception("boom"), connection_invalidated=invalidated
    )


@pytest.mark.parametrize(
    "error",
    [
        dbapi_error(invalidated=True),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),  # the connect timeout
    ],
    ids=repr,
)
def test_lost_connections_mean_the_database_is_unreachable(error: BaseException) -> None:
    assert database_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        dbapi_error(invalidated=False),
        sa_exc.IntegrityError("INSERT", None, Exception("duplicate key")),
        ValueError("not a database error"),
        POOL_TIMEOUT,
    ],
    ids=repr,
)
def test_other_failures_are_not_outages(error: BaseException) -> None:
    assert not database_unreachable(error)


@pytest.mark.parametrize(
    "error",
    [dbapi_error(invalidated=True), ConnectionRefusedError(111, "refused"), TimeoutError()],
    ids=repr,
)
def test_only_a_pool_timeout_means_busy(error: BaseException) -> None:
    assert database_busy(POOL_TIMEOUT)
    assert not database_busy(error)


class FailingSession:
    """A session whose commit fails with `error`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.info: dict[str, Any] = {}

    async def commit(self) -> None:
        raise self.error

    async def rollback(self) -> None:
        return None


def failing_sessions(error: BaseException) -> Any:
    """A sessionmaker stand-in whose sessions fail to commit."""

    @asynccontextmanager
    async def sessionmaker() -> AsyncIterator[FailingSession]:
        yield FailingSession(error)

    return sessionmaker


async def test_a_unit_of_work_reports_an_outage_as_database_unavailable() -> None:
    outage = dbapi_error(invalidated=True)
    with pytest.raises(DatabaseUnavailable) as raised:
        async with unit_of_work(failing_sessions(outage)):
            pass
    assert raised.value.__cause__ is outage
    assert (raised.value.status, raised.value.code) == (503, "database_unreachable")


async def test_a_unit_of_work_reports_a_pool_timeout_as_database_busy() -> None:
    with pytest.raises(DatabaseBusy) as raised:
        async with unit_of_work(failing_sessions(POOL_TIMEOUT)):
            pass
    assert raised.value.__cause__ is POOL_TIMEOUT
    assert (raised.value.status, raised.value.code) == (503, "database_busy")
    assert raised.value.extra == {"retry_after_seconds": 1}


async def test_a_unit_of_work_leaves_other_failures_alone() -> None:
    conflict = sa_exc.IntegrityError("INSERT", None, Exception("duplicate key"))
    with pytest.raises(sa_exc.IntegrityError) as raised:
        async with unit_of_work(failing_sessions(conflict)):
            pass
    assert raised.value is conflict


# --- The same questions put to a real PostgreSQL --------------------------------------------


@pytest.fixture
async def pg() -> AsyncIterator[tuple[AsyncEngine, asyncpg.Connection, str]]:
    """An engine made by the app on a database of its own, and the server's administrator."""
    url = await databases.create_database()
    engine = create_engine(Settings(APP_ENV=Environment.test, database_url=url))
    assert databases.POSTGRES_SERVER_URL
    server = make_url(databases.POSTGRES_SERVER_URL).set(drivername="postgresql")
    admin = await asyncpg.connect(server.render_as_string(hide_password=False))
    name = make_url(url).database
    assert name is not None
    try:
        yield engine, admin, name
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        await engine.dispose()
        await databases.drop_database(url)


async def _error_of(engine: AsyncEngine, *statements: str) -> BaseException:
    """What running `statements` in one transaction raised."""
    try:
        async with engine.begin() as connection:
            for sql in statements:
                await connection.execute(text(sql))
    except Exception as exc:
        return exc
    raise AssertionError(f"{statements!r} did not fail")


@pytest.mark.postgres
async def test_a_database_refusing_connections_is_unreachable(pg: Any) -> None:
    engine, admin, name = pg
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    assert database_unreachable(await _error_of(engine, "SELECT 1"))
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    async with engine.connect() as connection:  # and the same engine connects once it is back
        assert await connection.scalar(text("SELECT 1")) == 1


@pytest.mark.postgres
async def test_a_backend_killed_mid_query_is_unreachable_and_replaced(pg: Any) -> None:
    engine, admin, name = pg

    async def killed() -> bool:
        count = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND query LIKE 'SELECT pg_sleep%'",
            name,
        )
        return bool(count)

    killer = asyncio.create_task(wait_until(killed, what="the query to run"))
    error = await _error_of(engine, "SELECT pg_sleep(10)")
    await killer
    assert database_unreachable(error)
    async with engine.connect() as connection:
        assert await connection.scalar(text("SELECT 1")) == 1


@pytest.mark.postgres
async def test_a_deadlock_the_driver_raises_directly_is_a_lost_race(pg: Any) -> None:
    # A COPY calls asyncpg around SQLAlchemy (app/reading/repository.py): its deadlock with a
    # partition being attached must answer 409 like a statement's, not 500.
    _, _, name = pg
    server = make_url(databases.POSTGRES_SERVER_URL or "").set(
        drivername="postgresql", database=name
    )
    dsn = server.render_as_string(hide_password=False)
    setup = await asyncpg.connect(dsn)
    await setup.execute("CREATE TABLE one (n int); CREATE TABLE two (n int)")
    await setup.close()
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        both_hold = asyncio.Barrier(2)

        async def cross(connection: asyncpg.Connection, mine: str, theirs: str) -> None:
            async with connection.transaction():
                await connection.execute(f"LOCK TABLE {mine}")
                await both_hold.wait()
                await connection.execute(f"LOCK TABLE {theirs}")

        outcomes = await asyncio.gather(
            cross(first, "one", "two"), cross(second, "two", "one"), return_exceptions=True
        )
    finally:
        await first.close()
        await second.close()
    [deadlock] = [o for o in outcomes if isinstance(o, BaseException)]
    assert isinstance(deadlock, asyncpg.DeadlockDetectedError)
    error = driver_error(deadlock, "COPY readings")
    assert lost_a_race(error) and not database_unreachable(error)


@pytest.mark.postgres
async def test_a_backend_killed_under_a_direct_driver_call_is_unreachable(pg: Any) -> None:
    _, admin, name = pg
    server = make_url(databases.POSTGRES_SERVER_URL or "").set(
        drivername="postgresql", database=name
    )
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    pid = connection.get_server_pid()
    sleeping = asyncio.create_task(connection.execute("SELECT pg_sleep(10)"))
    await wait_until(
        lambda: admin.fetchval(
            "SELECT count(*) = 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep%'",
            pid,
        ),
        what="the query to run",
    )
    await admin.execute("SELECT pg_terminate_backend($1)", pid)
    with pytest.raises(Exception) as raised:
        await sleeping
    await connection.close()
    error = driver_error(raised.value, "COPY readings")
    assert database_unreachable(error) and not lost_a_race(error)
    # A refused value stays the client's, a plain failure stays a failure.
    assert not database_unreachable(driver_error(asyncpg.DivisionByZeroError(), "COPY"))


@pytest.mark.postgres
@pytest.mark.parametrize(
    "statements",
    [
        ["SELECT 1 / 0"],  # 22012 division_by_zero
        ["SELECT * FROM no_such_table"],  # 42P01 undefined_table
        ["SET LOCAL statement_timeout = 10", "SELECT pg_sleep(1)"],  # 57014 query_canceled
    ],
    ids=["division_by_zero", "undefined_table", "query_canceled"],
)
async def test_failing_statements_are_not_outages(pg: Any, statements: list[str]) -> None:
    engine, _, _ = pg
    assert not database_unreachable(await _error_of(engine, *statements))


@pytest.mark.postgres
async def test_a_full_pool_answers_database_busy_while_the_database_is_up() -> None:
    # One pooled connection, held by someone else: the request waits the pool's timeout and is
    # told to come back (503 database_busy, Retry-After: 1), in Chinese or English; once the
    # connection is free the same request is served by the same process.
    async with committed_database() as (settings, sessionmaker):
        _, headers = await committed_patient(sessionmaker, settings)
        tight = settings.model_copy(
            update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_seconds": 0.3}
        )
        application = create_app(tight)
        async with (
            serve_in_loop(application) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            async with application.state.engine.connect() as held:
                assert await held.scalar(text("SELECT 1")) == 1
                busy = await http.get("/api/v1/patients/me", headers=headers)
                english = await http.get(
                    "/api/v1/patients/me", headers={**headers, "Accept-Language": "en"}
                )
            served = await http.get("/api/v1/patients/me", headers=headers)
    for response, detail in (
        (busy, "服务繁忙，数据库连接已全部占用，请稍后重试"),
        (
            english,
            "The service is busy (all database connections in use), please retry shortly",
        ),
    ):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        problem = response.json()
        assert (problem["code"], problem["detail"]) == ("database_busy", detail)
        assert problem["retry_after_seconds"] == 1
    assert served.status_code == 200, served.text


class _KillBackend:
    """The server terminates the uploading backend just before its COPY."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def strike(self, copying: asyncpg.Connection) -> None:
        admin = await asyncpg.connect(self.dsn)
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", copying.get_server_pid())
        finally:
            await admin.close()

    async def settle(self) -> None:
        pass


class _Deadlock:
    """Another transaction (partition maintenance, say) holds a SHARE lock on `readings` and
    asks for ACCESS EXCLUSIVE, which waits for the upload's read of the table; the COPY then
    asks for a lock the SHARE one refuses: a deadlock, found at once by the COPY's backend, whose
    transaction is the one refused."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.admin: asyncpg.Connection | None = None
        self.upgrade: asyncio.Task[Any] | None = None

    async def strike(self, copying: asyncpg.Connection) -> None:
        self.admin = admin = await asyncpg.connect(self.dsn)
        await admin.execute("BEGIN")
        await admin.execute("LOCK TABLE readings IN SHARE MODE")
        self.upgrade = asyncio.create_task(
            admin.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")
        )
        watcher = await asyncpg.connect(self.dsn)
        try:
            await wait_until(
                lambda: watcher.fetchval(
                    "SELECT count(*) > 0 FROM pg_locks WHERE pid = $1 AND NOT granted",
                    admin.get_server_pid(),
                ),
                what="the other transaction to wait for the upload",
            )
        finally:
            await watcher.close()

    async def settle(self) -> None:
        """The other transaction, granted its lock once the upload gave up, ends."""
        assert self.admin is not None and self.upgrade is not None
        await self.upgrade
        await self.admin.execute("ROLLBACK")
        await self.admin.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("meanwhile", "status", "code"),
    [(_Deadlock, 409, "concurrent_update"), (_KillBackend, 503, "database_unreachable")],
    ids=["deadlock", "backend_killed"],
)
async def test_an_upload_whose_copy_fails_is_answered_and_its_resend_stored(
    monkeypatch: pytest.MonkeyPatch, meanwhile: Any, status: int, code: str
) -> None:
    # The readings COPY calls the driver directly (app/reading/repository.py), around
    # SQLAlchemy: what goes wrong there is answered as a statement's failure would be (409: a
    # lost race, to retry; 503: the database went away), never 500, and the phone's resend is
    # stored by the same process.
    async with committed_database() as (settings, sessionmaker):
        async with sessionmaker() as session:
            phone = await wearer(session, settings)
            await session.commit()
        server = make_url(settings.database_url).set(drivername="postgresql")
        strike = meanwhile(server.render_as_string(hide_password=False))
        copy = asyncpg.Connection.copy_records_to_table
        struck: list[bool] = []

        async def struck_first(self: asyncpg.Connection, *args: Any, **kwargs: Any) -> Any:
            if not struck:
                struck.append(True)
                await strike.strike(self)
            return await copy(self, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", struck_first)
        start = utcnow().replace(second=0, microsecond=0) - timedelta(hours=1)
        batch = {
            "items": [cgm_item(phone.cgm, start + timedelta(minutes=5 * n), 6.2) for n in range(3)]
        }
        async with (
            serve_in_loop(create_app(settings)) as base_url,
            httpx.AsyncClient(base_url=base_url, timeout=60) as http,
        ):
            failed = await http.post("/api/v1/readings", json=batch, headers=phone.headers)
            await strike.settle()
            resent = await http.post("/api/v1/readings", json=batch, headers=phone.headers)
        async with sessionmaker() as session:
            stored = await session.scalar(
                select(func.count()).select_from(Reading).where(Reading.device_id == phone.cgm.id)
            )
    assert struck, "the upload did not take the COPY path"
    assert failed.status_code == status, failed.text
    assert failed.json()["code"] == code
    assert resent.status_code == 200, resent.text
    assert resent.json()["accepted"] == 3
    assert stored == 3
