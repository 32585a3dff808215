"""`python -m app.outbox`: a standalone relay process configured from the environment."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import structlog

from app import wiring
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.observability import configure_logging
from app.outbox.handlers import build_handlers, outbox_http_client
from app.outbox.relay import OutboxRelay

log = structlog.get_logger(__name__)


async def run_relay(settings: Settings) -> None:
    """Relay the outbox of settings.database_url until cancelled, then release resources."""
    engine = create_engine(settings)
    http = outbox_http_client(settings)
    try:
        relay = OutboxRelay(
            create_sessionmaker(engine),
            build_handlers(settings, http, wiring.OUTBOX_KINDS),
            settings,
        )
        await relay.run_forever()
    finally:
        await http.aclose()
        await engine.dispose()


async def _run_until_signalled(settings: Settings) -> None:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    # SIGTERM (deployments) and SIGINT stop the relay between or during deliveries; whatever
    # was in flight stays leased and is delivered again once the lease runs out.
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await run_relay(settings)


def main() -> None:
    """Entry point of the worker process."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(_run_until_signalled(settings))


if __name__ == "__main__":
    main()
