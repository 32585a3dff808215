"""`python -m app.reading`: the reading maintenance worker (signal loss, rollups, partitions)."""

from __future__ import annotations

import asyncio
import contextlib
import signal

from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.observability import configure_logging
from app.reading.maintenance import run_forever
from app.realtime.hub import create_hub


async def _run(settings: Settings) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    engine = create_engine(settings)
    # With REDIS_URL set, alerts raised here reach doctors connected to any web process.
    hub = create_hub(settings)
    await hub.start()
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await run_forever(create_sessionmaker(engine), settings, hub)
    finally:
        await hub.stop()
        await engine.dispose()


def main() -> None:
    """Entry point of the worker process."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(_run(settings))


if __name__ == "__main__":
    main()
