"""Periodic money work, run by `app.worker` (the `money` job).

Each run follows refunds up (queries the provider about online refunds still unconfirmed, fails
those it never took, escalates cash and card refunds not handed back) and, from
`benefit_rule_warning_days` before 1 January, tells the bureau which benefit rules have no
version for the coming year; reminds patients of a personal share left unpaid after hand-over
(app/payment/dues.py). Safe from several processes at once: every change is made under the
patient-year lock or is idempotent by its outbox key.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.insurance import rules as rule_service
from app.kit.clock import utcnow
from app.payment import dues, refunds
from app.payment.providers import gateway_from_settings


@dataclass(frozen=True)
class MoneyReport:
    refunds_checked: int
    refunds_changed: int
    refunds_escalated: int
    rule_keys_not_renewed: int
    payments_reminded: int


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, http: httpx.AsyncClient
) -> MoneyReport:
    """One pass of the money jobs."""
    report = await refunds.follow_up(sessionmaker, gateway_from_settings(settings, http), settings)
    async with unit_of_work(sessionmaker) as session:
        missing = await rule_service.warn_unrenewed(session, settings.benefit_rule_warning_days)
    async with unit_of_work(sessionmaker) as session:
        reminded = await dues.remind_outstanding(session, settings, utcnow())
    return MoneyReport(report.checked, report.changed, report.escalated, missing, reminded)
