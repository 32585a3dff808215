"""Periodic money work, for a scheduler or a long-running process:

    python -m app.payment.jobs             # once
    python -m app.payment.jobs --every 60  # for ever, every 60 s

Each run follows refunds up (queries the provider about online refunds still unconfirmed, fails
those it never took, escalates cash and card refunds not handed back) and, from
`benefit_rule_warning_days` before 1 January, tells the bureau which benefit rules have no
version for the coming year. Safe from several processes at once: every change is made under the
patient-year lock or is idempotent by its outbox key.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import asdict, dataclass

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker, unit_of_work
from app.insurance import rules as rule_service
from app.payment import refunds
from app.payment.providers import gateway_from_settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MoneyReport:
    refunds_checked: int
    refunds_changed: int
    refunds_escalated: int
    rule_keys_not_renewed: int


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, http: httpx.AsyncClient
) -> MoneyReport:
    """One pass of the money jobs."""
    report = await refunds.follow_up(sessionmaker, gateway_from_settings(settings, http), settings)
    async with unit_of_work(sessionmaker) as session:
        missing = await rule_service.warn_unrenewed(session, settings.benefit_rule_warning_days)
    return MoneyReport(report.checked, report.changed, report.escalated, missing)


async def run_forever(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """Run the jobs every `payment_jobs_interval_seconds` until cancelled; failures are logged."""
    async with httpx.AsyncClient(timeout=settings.outbox_http_timeout_seconds) as http:
        while True:
            try:
                report = await run_once(sessionmaker, settings, http)
                log.info("money jobs pass", **asdict(report))
            except Exception:
                log.exception("money jobs pass failed")
            await asyncio.sleep(settings.payment_jobs_interval_seconds)


async def main(every: float | None) -> None:
    """Run the jobs once, or every `every` seconds."""
    settings = get_settings()
    engine = create_engine(settings)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with httpx.AsyncClient(timeout=settings.outbox_http_timeout_seconds) as http:
            while True:
                print(await run_once(sessionmaker, settings, http), flush=True)
                if every is None:
                    return
                await asyncio.sleep(every)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--every", type=float, default=None, help="seconds between runs")
    asyncio.run(main(parser.parse_args().every))
