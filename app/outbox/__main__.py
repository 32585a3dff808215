"""`python -m app.outbox`: a standalone relay process configured from the environment."""

from __future__ import annotations

import asyncio

import structlog

from app import wiring
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.kit.signals import until_signalled
from app.observability import configure_logging
from app.outbox.handlers import build_handlers, outbox_http_client
from app.outbox.relay import OutboxRelay

log = structlog.get_logger(__name__)


async def run_relay(settings: Settings) -> None:
    """Relay the outbox of settings.database_url until cancelled, then release resources."""
    engine = create_engine(settings)
    http = outbox_http_client(settings)
    sessionmaker = create_sessionmaker(engine)
    try:
        relay = OutboxRelay(
            sessionmaker,
            build_handlers(
                settings, http, wiring.OUTBOX_KINDS, sessionmaker, wiring.PUSH_PROVIDERS
            ),
            settings,
        )
        await relay.run_forever()
    finally:
        await http.aclose()
        await engine.dispose()


def main() -> None:
    """Entry point of the relay process. SIGTERM (deployments) and SIGINT stop the relay
    between or during deliveries; whatever was in flight stays leased and is delivered again
    once the lease runs out."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    asyncio.run(until_signalled(run_relay(settings)))


if __name__ == "__main__":
    main()
