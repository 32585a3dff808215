"""Test fixtures: a migrated database per run, a rolled-back transaction per test, app clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

# The xdist workers and every server or CLI process a test starts cache byte-code (in
# var/pycache, ignored by git) even where the environment says not to (PYTHONDONTWRITEBYTECODE,
# as on this project's machines): else each compiles the service and its libraries from source
# again, seconds of CPU apiece. They inherit this environment.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("PYTHONPYCACHEPREFIX", str(Path(__file__).parents[1] / "var" / "pycache"))

os.environ.setdefault("APP_ENV", "test")
# Servers started by tests (in-loop or subprocess) run no periodic jobs unless a test asks.
os.environ.setdefault("BACKGROUND_JOBS_ENABLED", "false")

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import wiring
from app.auth.fake_wechat import create_fake_wechat_app
from app.auth.wechat import WeChatClient
from app.config import Environment, Settings
from app.db import create_engine
from app.kit.blobstore import LocalBlobStore
from app.main import create_app
from app.realtime.hub import create_hub
from tests.fixtures import apps, databases

# Every business error code the tests see answered is checked against the OpenAPI document.
pytest_plugins = ["tests.fixtures.error_recorder"]

FAKE_WECHAT_BASE = "http://fake-wechat.test"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip `postgres`/`redis` tests (with the reason) when that server is not configured, and
    `sqlite_file` tests in the PostgreSQL pass (they ran, the same, in the SQLite pass)."""
    missing = {
        "postgres": None if databases.on_postgres() else "set TEST_POSTGRES_URL to run",
        "redis": None if databases.REDIS_URL else "set TEST_REDIS_URL to run",
        "sqlite_file": "on a SQLite file whichever the pass: run in the SQLite pass"
        if databases.on_postgres()
        else None,
    }
    for item in items:
        for marker, reason in missing.items():
            if reason and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def _wired() -> None:
    """Every subscription declared, as each of the service's processes does at start: tests
    that call services without an app record events too (the app is built once per worker,
    so its start no longer wires the process before whichever test happens to come first)."""
    wiring.wire()


@pytest.fixture(scope="session", autouse=True)
async def _migrated_template() -> AsyncIterator[None]:
    """Drop this worker's migrated template database (tests/fixtures/databases.py) at the end."""
    yield
    await databases.drop_migrated_template()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """One freshly migrated database for the worker's whole run (SQLite file or new PostgreSQL
    DB; each pytest-xdist worker has its own)."""
    url = await databases.create_migrated_database()
    yield url
    await databases.drop_database(url)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """Settings of the app under test (test env, the run's database, no background relay)."""
    return Settings(
        APP_ENV=Environment.test,
        database_url=database_url,
        redis_url=None,
        outbox_relay_enabled=False,
        wechat_api_base=FAKE_WECHAT_BASE,
        log_json=True,
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The run's engine."""
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions joined to the test's transaction: their commits become savepoint releases."""
    return async_sessionmaker(
        bind=connection,
        expire_on_commit=False,
        autoflush=False,
        join_transaction_mode="create_savepoint",
    )


@pytest.fixture
async def db_session(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for arranging and checking rows in the test's transaction."""
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def fake_wechat() -> httpx.AsyncClient:
    """A client of the local fake WeChat (plays both wx.login and code2session)."""
    fake = create_fake_wechat_app("wx-demo-appid", "dev-wechat-secret")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url=FAKE_WECHAT_BASE)


@pytest.fixture(scope="session")
def app_template(settings: Settings) -> Iterator[FastAPI]:
    """The app of the run's settings, built once per worker: building one (every route's
    dependencies and validators, the fake merchant's keys) costs more than most tests. Each
    test gets its own copy (`app`), sharing its chart renderer (one process per worker)."""
    application = create_app(settings)
    yield application
    application.state.chart_renderer.close()


@pytest.fixture
async def app(
    settings: Settings,
    app_template: FastAPI,
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    fake_wechat: httpx.AsyncClient,
    tmp_path: Path,
) -> AsyncIterator[object]:
    """The app wired to the test's transaction and the fake WeChat (no lifespan tasks)."""
    application = apps.own_copy(app_template)
    hub = create_hub(settings)
    await hub.start()
    application.state.engine = engine
    application.state.sessionmaker = sessionmaker
    application.state.http = fake_wechat
    application.state.hub = hub
    application.state.blobs = LocalBlobStore(tmp_path / "blobs")
    application.state.wechat = WeChatClient(
        fake_wechat, FAKE_WECHAT_BASE, settings.wechat_appid, settings.wechat_secret
    )
    yield application
    await hub.stop()


@pytest.fixture
async def client(app: object) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the ASGI app."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
