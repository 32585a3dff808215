"""Database engine and sessions: one session per request, committed before the response."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings
from app.errors import AppError, DatabaseBusy, DatabaseUnavailable
from app.kit.crypto import use_data_keys

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
_AFTER_COMMIT_KEY = "after_commit"
_APP_STATE_KEY = "app_state"

# A connection attempt to a host that drops packets fails after this instead of asyncpg's 60 s.
_CONNECT_TIMEOUT_SECONDS = 5.0
# SQLSTATEs after which the server has dropped the connection or cannot serve at all, rather
# than a statement being wrong: 08 connection exception, 53 insufficient resources (too many
# connections, out of memory), 57P shutdown / cannot connect now / database dropped.
_LOST_CONNECTION_SQLSTATES = ("08", "53", "57P")


def create_engine(settings: Settings, pool_size: int | None = None) -> AsyncEngine:
    """An async engine for DATABASE_URL that encrypts columns with the settings' field keys and
    computes blind indexes with their blind-index key; SQLite gets WAL, foreign keys and real
    transactions. `pool_size` gives PostgreSQL a pool of that many connections instead of
    DB_POOL_SIZE + DB_MAX_OVERFLOW (for work kept off the requests' pool)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection per process: SQLite admits one writer at a time anyway, and queueing
        # on the pool is fair and immediate where busy_timeout polling is neither.
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=60
        )
        _configure_sqlite(engine)
    else:
        connect_args: dict[str, Any] = {"timeout": _CONNECT_TIMEOUT_SECONDS}
        if settings.database_transaction_pooler:
            connect_args |= _UNPREPARED
        engine = _postgres_engine(url, settings, connect_args, pool_size)
    use_data_keys(
        engine.sync_engine.dialect, settings.field_encryption_keys, settings.blind_index_key
    )
    return engine


def create_lock_engine(settings: Settings, engine: AsyncEngine, locks: int) -> AsyncEngine:
    """The engine the periodic jobs take their locks on, for `locks` jobs.

    On PostgreSQL a job's lock is a session advisory lock on a connection held for the whole
    run, while the job works on connections of `engine`'s. So the locks get a pool of their
    own, one connection per job: taken from `engine`'s pool, jobs started together would hold
    every connection with their locks and wait for one to work with (and the requests of a web
    process that runs the jobs with them). Behind a transaction pooler the pool is on
    DATABASE_DIRECT_URL, PostgreSQL itself. SQLite's locks are in-process: `engine` itself.
    The caller disposes of the engine it gets when it is not `engine`.
    """
    if engine.dialect.name != "postgresql":
        return engine
    url = settings.database_url
    if settings.database_transaction_pooler:
        if not settings.database_direct_url:
            raise ValueError(
                "DATABASE_TRANSACTION_POOLER needs DATABASE_DIRECT_URL (PostgreSQL itself, not "
                "the pooler) for the job locks, which hold a session"
            )
        url = settings.database_direct_url
    return _postgres_engine(
        make_url(url), settings, {"timeout": _CONNECT_TIMEOUT_SECONDS}, pool_size=locks
    )


# Behind PgBouncer in transaction mode (before 1.21 it does not track prepared statements), a
# statement prepared in one transaction may be gone, or another client's, in the next: asyncpg
# keeps no statement cache, SQLAlchemy's dialect none either, and the statements it still
# prepares (to learn result columns) get names no other connection uses (SQLAlchemy's
# "Prepared Statement Name with PGBouncer").
_UNPREPARED: dict[str, Any] = {
    "statement_cache_size": 0,
    "prepared_statement_cache_size": 0,
    "prepared_statement_name_func": lambda: f"__asyncpg_{uuid.uuid4()}__",
}


def _postgres_engine(
    url: Any, settings: Settings, connect_args: dict[str, Any], pool_size: int | None = None
) -> AsyncEngine:
    # The pool keeps its connections: one opened beyond it (overflow) is closed as soon as it
    # comes back to a full pool, so load that hovers around the pool's size opens and closes
    # a PostgreSQL backend every few requests (a fork, sign-in, and every statement prepared
    # again): bench/README.md, "The pool keeps its connections". Past the pool, requests wait.
    engine = create_async_engine(
        url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0 if pool_size else settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine.pool, "checkout", _replace_closed_connection)
    event.listen(engine.sync_engine, "handle_error", _recognise_lost_connections)
    return engine


def _replace_closed_connection(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    # Connections the server closed while they sat in the pool (restart, failover,
    # pg_terminate_backend) are replaced at checkout, so the process recovers by itself once
    # the database is back. asyncpg reads every pooled socket, so it has seen the close
    # without a round trip; SQLAlchemy's pool_pre_ping spends three (BEGIN, ping, ROLLBACK) on
    # every checkout, ~2.5 ms of an assignment. The pool discards the connection and opens a
    # new one when the listener raises DisconnectionError.
    if record.driver_connection.is_closed():
        raise sa_exc.DisconnectionError("connection closed by the server while pooled")


def _recognise_lost_connections(context: ExceptionContext) -> None:
    # SQLAlchemy's asyncpg dialect calls an error a disconnect only once asyncpg has seen the
    # socket close. A backend killed mid-query first surfaces as a protocol-state error ("another
    # operation is in progress"), a FATAL SQLSTATE, or a refusal while connecting; marking
    # those as disconnects makes the pool drop the connection (instead of handing out a
    # confused one) and flags the error `connection_invalidated` for `database_unreachable`.
    if context.is_disconnect:
        return
    error = context.original_exception
    dbapi = context.dialect.loaded_dbapi
    connecting = context.connection is None
    sqlstate = getattr(error, "sqlstate", None) or ""
    if (
        connecting
        or sqlstate.startswith(_LOST_CONNECTION_SQLSTATES)
        or isinstance(error, (dbapi.InterfaceError, getattr(dbapi, "InternalClientError", ())))
    ):
        context.is_disconnect = True


def driver_error(exc: Exception, statement: str) -> sa_exc.DBAPIError:
    """The error SQLAlchemy raises for a statement, for `exc` that the driver raised to code
    calling it directly (a COPY): with the same SQLSTATE (a lost race answers 409) and, by the
    rules of `_recognise_lost_connections`, marked `connection_invalidated` when the connection
    is gone (503)."""
    sqlstate = getattr(exc, "sqlstate", None)
    lost = sqlstate is None or sqlstate.startswith(_LOST_CONNECTION_SQLSTATES)
    return sa_exc.DBAPIError(statement, None, exc, connection_invalidated=lost)


def database_unreachable(exc: BaseException) -> bool:
    """Whether `exc` means the database could not be reached, rather than a statement failing."""
    if isinstance(exc, sa_exc.DBAPIError):
        return exc.connection_invalidated
    # The driver could not connect (refused, reset, timed out) - raised as is, before
    # SQLAlchemy sees a DBAPI error.
    return isinstance(exc, (ConnectionError, TimeoutError))


def database_busy(exc: BaseException) -> bool:
    """Whether `exc` means every pooled connection stayed in use for the pool's timeout: the
    database is up, this process has more requests in flight than connections."""
    return isinstance(exc, sa_exc.TimeoutError)


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take it over
    # (SQLAlchemy's documented recipe) and take the write lock up front so concurrent
    # read-then-write requests queue on busy_timeout instead of failing with "database is locked".
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once the session's transaction has committed (ephemeral pushes only)."""
    session.info.setdefault(_AFTER_COMMIT_KEY, []).append(callback)


async def run_after_commit(session: AsyncSession) -> None:
    """Run and clear the callbacks registered with `after_commit`; failures are logged only."""
    callbacks: list[AfterCommit] = session.info.pop(_AFTER_COMMIT_KEY, [])
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            log.exception("after-commit callback failed")


@asynccontextmanager
async def unit_of_work(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session whose work commits when the block ends (rolls back if it raises), then runs
    the after-commit callbacks: one per request, websocket message or background task."""
    try:
        async with sessionmaker() as session:
            try:
                yield session
            except AppError as exc:
                if exc.keep_changes:
                    await session.commit()
                else:
                    await session.rollback()
                session.info.pop(_AFTER_COMMIT_KEY, None)
                raise
            except BaseException:
                await session.rollback()
                session.info.pop(_AFTER_COMMIT_KEY, None)
                raise
            await session.commit()
    except Exception as exc:
        if database_busy(exc):
            log.warning("no pooled database connection came free: %.300s", exc)
            raise DatabaseBusy() from exc
        if not database_unreachable(exc):
            raise
        # Nothing was committed, or the commit's outcome is unknown: either way the client's
        # retry (same idempotency key) is what makes it right. An operator sees this line.
        log.warning("database unreachable: %s: %.300s", type(exc).__name__, exc)
        raise DatabaseUnavailable() from exc
    await run_after_commit(session)


def bind_app_state(session: AsyncSession, state: Any) -> None:
    """Let the session's event subscribers reach the application (its settings, hub, ...)."""
    session.info[_APP_STATE_KEY] = state


def app_state_of(session: AsyncSession) -> Any:
    """The application state bound to `session` (see `bind_app_state`)."""
    try:
        return session.info[_APP_STATE_KEY]
    except KeyError:
        raise RuntimeError("this session has no application bound (bind_app_state)") from None


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session (see `unit_of_work`), bound to the application."""
    async with unit_of_work(request.app.state.sessionmaker) as session:
        bind_app_state(session, request.app.state)
        yield session


# Function scope: the commit runs after the endpoint returns and before the response is sent,
# so a failed commit becomes an error response instead of a silent loss.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
