"""The app's lifespan starts its background work and stops it cleanly."""

from __future__ import annotations

import asyncio

from app.config import Environment, Settings
from app.main import create_app


async def test_lifespan_runs_the_relay_and_periodic_jobs_then_stops_them(database_url) -> None:
    settings = Settings(
        APP_ENV=Environment.test,
        database_url=database_url,
        outbox_relay_enabled=True,
        background_jobs_enabled=True,
    )
    app = create_app(settings)
    names = {"outbox-relay", "periodic-jobs"}
    async with app.router.lifespan_context(app):
        running = {t.get_name() for t in asyncio.all_tasks() if not t.done()}
        assert names <= running
    still = {t.get_name() for t in asyncio.all_tasks() if not t.done()}
    assert not names & still
