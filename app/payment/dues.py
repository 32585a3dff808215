"""Reminding a patient of a personal share still outstanding after hand-over.

Most patients pay at the door (cash, card, or the courier's QR code); whoever has not, an hour
later (PAYMENT_DUE_NOTICE_AFTER_MINUTES), is told once what is due and where to pay it online.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from app.outbox.push import PushNotification, queue_push
from app.payment import repository as payment_repository
from app.payment import service as payment_service

PAYMENT_DUE = "payment_due"
BATCH = 500


async def remind_outstanding(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue the reminder of every settlement of the window still owing a cash share (once
    each: the outbox key); how many were queued or already were."""
    until = now - timedelta(minutes=settings.payment_due_notice_after_minutes)
    since = now - timedelta(days=settings.payment_due_window_days)
    reminded = 0
    for settlement, account_id in await payment_repository.settled_between(
        session, since, until, BATCH
    ):
        outstanding = await payment_service.outstanding_fen(session, settlement)
        if outstanding <= 0:
            continue
        await queue_push(
            session,
            PushNotification(
                recipient=str(account_id),
                template=PAYMENT_DUE,
                data={"amount_fen": outstanding, "order_no": settlement.order_id.hex},
                page=f"pages/payment/bill?settlement={settlement.id}",
            ),
            f"{PAYMENT_DUE}:{settlement.id}",
        )
        reminded += 1
    return reminded
