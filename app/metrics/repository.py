"""The scrape-time counts of state: one grouped query each, over the rows still open only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Alert, OutboxMessage, PharmacyOrder


@dataclass(frozen=True)
class Backlog:
    """How many rows are in one state, and the oldest moment among them."""

    count: int
    oldest: datetime | None


async def open_alerts_by_rule(session: AsyncSession) -> dict[str, int]:
    """Unacknowledged alerts by rule."""
    rows = await session.execute(
        select(Alert.rule, func.count()).where(Alert.acknowledged_at.is_(None)).group_by(Alert.rule)
    )
    return {rule: count for rule, count in rows}


async def orders_by_status(session: AsyncSession, statuses: tuple[str, ...]) -> dict[str, Backlog]:
    """Orders in each of `statuses`, with the creation time of the oldest."""
    rows = await session.execute(
        select(PharmacyOrder.status, func.count(), func.min(PharmacyOrder.created_at))
        .where(PharmacyOrder.status.in_(statuses))
        .group_by(PharmacyOrder.status)
    )
    return {status: Backlog(count, oldest) for status, count, oldest in rows}


async def outbox_by_status(session: AsyncSession, statuses: tuple[str, ...]) -> dict[str, Backlog]:
    """Outbox messages in each of `statuses`, with the earliest time one was due."""
    rows = await session.execute(
        select(OutboxMessage.status, func.count(), func.min(OutboxMessage.next_attempt_at))
        .where(OutboxMessage.status.in_(statuses))
        .group_by(OutboxMessage.status)
    )
    return {status: Backlog(count, oldest) for status, count, oldest in rows}
