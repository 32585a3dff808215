"""The service on a real socket over its own migrated database, with a committed pilot world."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from tests.fixtures import databases
from tests.fixtures.servers import serve_in_loop
from tests.prescription import phone as doctor_phone
from tests.prescription.world import World, build, ok, rx_body


@dataclass
class Live:
    world: World
    base: str
    http: httpx.AsyncClient


@asynccontextmanager
async def live_service(
    prepare: Callable[[AsyncSession, World], Awaitable[None]] | None = None, **settings: Any
) -> AsyncIterator[Live]:
    """Serve the app (lifespan and all) on a fresh database; `prepare` adds rows first."""
    url = await databases.create_migrated_database()
    config = Settings(APP_ENV=Environment.test, database_url=url, redis_url=None, **settings)
    engine = create_engine(config)
    try:
        async with create_sessionmaker(engine)() as session:
            world = await build(session, config)
            if prepare is not None:
                await prepare(session, world)
            await session.commit()
        async with (
            serve_in_loop(create_app(config)) as base,
            httpx.AsyncClient(base_url=base, timeout=10) as http,
        ):
            yield Live(world, base, http)
    finally:
        await engine.dispose()
        await databases.drop_database(url)


async def place_order(live: Live, key: str) -> dict[str, Any]:
    """Prescribe, sign, approve and order at the world's store, all over HTTP."""
    world, http = live.world, live.http
    created = await ok(
        await http.post("/api/v1/prescriptions", json=rx_body(world), headers=world.as_("doctor")),
        201,
    )
    url = f"/api/v1/prescriptions/{created['id']}"
    await ok(await doctor_phone.sign(http, created["id"], world.as_("doctor"), world.phone))
    await ok(await http.post(f"{url}/approve", headers=world.as_("reviewer")))
    return await ok(
        await http.post(
            "/api/v1/orders",
            json={"prescription_id": created["id"], "store_id": str(world.store.id)},
            headers={**world.as_("patient"), "Idempotency-Key": key},
        ),
        201,
    )
