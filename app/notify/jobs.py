"""Settling SMS whose outcome is unknown (app/notify/provider.py): Tencent Cloud's delivery
reports are pulled (PullSmsSendStatus) and each one names, as its `SessionContext`, the
idempotency key the message was sent under. A delivery still `sending` or `unknown` becomes
`sent` (SUCCESS) or `failed` (FAIL, with the operator's description). Run by `app.worker`
(the `sms-reports` job) where SMS is configured.
"""

from __future__ import annotations

from typing import Protocol

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import unit_of_work
from app.kit.clock import utcnow
from app.models import PushDeliveryStatus
from app.notify import repository as notify_repository
from app.notify.sms import PULL_LIMIT, SmsReport, tencent_sms_client

log = structlog.get_logger(__name__)

UNSETTLED = frozenset({PushDeliveryStatus.sending, PushDeliveryStatus.unknown})
# Pulls per run at most (each hands out up to PULL_LIMIT reports).
MAX_PULLS = 20


def sms_configured(settings: Settings) -> bool:
    """Whether this deployment sends SMS at all."""
    return settings.push_provider == "wechat" and bool(settings.sms_templates)


class ReportSource(Protocol):
    """Where delivery reports come from (TencentSmsClient)."""

    async def pull_reports(self) -> list[SmsReport]: ...


async def settle_reports(sessionmaker: async_sessionmaker[AsyncSession], sms: ReportSource) -> int:
    """Pull the pending delivery reports and settle the deliveries they name; how many were
    settled. Reports of deliveries already settled are dropped (Tencent hands each out once)."""
    settled = 0
    for _ in range(MAX_PULLS):
        reports = await sms.pull_reports()
        for report in reports:
            settled += await _settle(sessionmaker, report)
        if len(reports) < PULL_LIMIT:
            break
    return settled


async def _settle(sessionmaker: async_sessionmaker[AsyncSession], report: SmsReport) -> int:
    if not report.session_context:
        return 0
    async with unit_of_work(sessionmaker) as session:
        delivery = await notify_repository.delivery(session, report.session_context)
        if delivery is None or delivery.status not in UNSETTLED:
            return 0
        delivery.status = PushDeliveryStatus.sent if report.delivered else PushDeliveryStatus.failed
        if not report.delivered:
            delivery.error = f"SMS report {report.report_status}: {report.description}"[:300]
        delivery.updated_at = utcnow()
    log.info(
        "sms outcome settled from its delivery report",
        idempotency_key=report.session_context,
        status=str(delivery.status),
    )
    return 1


async def run_once(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, http: httpx.AsyncClient
) -> int:
    """One pass of the job (nothing where SMS is not configured)."""
    if not sms_configured(settings):
        return 0
    return await settle_reports(sessionmaker, tencent_sms_client(settings, http))
