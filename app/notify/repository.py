"""SQL of notifications: people's addresses, their subscription grants, deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import dialect_insert
from app.models import Account, Patient, PushConsent, PushDelivery, PushGrant


async def addresses(
    session: AsyncSession, account_id: uuid.UUID
) -> tuple[str | None, str | None] | None:
    """An account's WeChat openid and (patients) mobile number; None if there is no account."""
    row = (
        await session.execute(
            select(Account.wechat_openid, Patient.phone)
            .outerjoin(Patient, Patient.account_id == Account.id)
            .where(Account.id == account_id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def add_grants(
    session: AsyncSession, account_id: uuid.UUID, template_id: str, count: int, now: datetime
) -> int:
    """Add `count` one-time grants (atomically, whoever else adds or spends); the new count."""
    insert = dialect_insert(session, PushGrant).values(
        account_id=account_id, template_id=template_id, remaining=count, updated_at=now
    )
    statement = insert.on_conflict_do_update(
        index_elements=[PushGrant.account_id, PushGrant.template_id],
        set_={"remaining": PushGrant.remaining + count, "updated_at": now},
    ).returning(PushGrant.remaining)
    remaining: int = (await session.execute(statement)).scalar_one()
    return remaining


async def clear_grants(
    session: AsyncSession, account_id: uuid.UUID, template_id: str, now: datetime
) -> None:
    """No grant left for the template (the person banned it, or WeChat says 43101)."""
    await session.execute(
        update(PushGrant)
        .where(PushGrant.account_id == account_id, PushGrant.template_id == template_id)
        .values(remaining=0, updated_at=now)
    )


async def take_grant(
    session: AsyncSession, account_id: uuid.UUID, template_id: str, now: datetime
) -> bool:
    """Use one grant up if one is left; False if none. One UPDATE with the condition in its
    WHERE: concurrent spenders queue on the row, and the last grant goes to only one."""
    result = await session.execute(
        update(PushGrant)
        .where(
            PushGrant.account_id == account_id,
            PushGrant.template_id == template_id,
            PushGrant.remaining > 0,
        )
        .values(remaining=PushGrant.remaining - 1, updated_at=now)
        .returning(PushGrant.remaining)
    )
    return result.first() is not None


async def return_grant(
    session: AsyncSession, account_id: uuid.UUID, template_id: str, now: datetime
) -> None:
    """Give back a grant that a message WeChat never delivered (quota, bad data) had held."""
    await session.execute(
        update(PushGrant)
        .where(PushGrant.account_id == account_id, PushGrant.template_id == template_id)
        .values(remaining=PushGrant.remaining + 1, updated_at=now)
    )


async def consent_recorded(session: AsyncSession, account_id: uuid.UUID, key: str) -> bool:
    """Whether a report under this Idempotency-Key was already counted."""
    found = await session.scalar(
        select(PushConsent.idempotency_key).where(
            PushConsent.account_id == account_id, PushConsent.idempotency_key == key
        )
    )
    return found is not None


async def add_consent(session: AsyncSession, row: PushConsent) -> None:
    """Record a report (its key is new for the account: the caller looked)."""
    session.add(row)
    await session.flush()


async def grants(session: AsyncSession, account_id: uuid.UUID) -> Sequence[PushGrant]:
    """An account's grants, by template."""
    rows = await session.scalars(
        select(PushGrant).where(PushGrant.account_id == account_id).order_by(PushGrant.template_id)
    )
    return rows.all()


async def delivery(session: AsyncSession, idempotency_key: str) -> PushDelivery | None:
    """The delivery of an outbox message, locked for this transaction, if one was begun."""
    return await session.scalar(
        select(PushDelivery)
        .where(PushDelivery.idempotency_key == idempotency_key)
        .with_for_update()
    )


async def add_delivery(session: AsyncSession, row: PushDelivery) -> None:
    """Record a delivery (its key is new: the caller found none under the lock)."""
    session.add(row)
    await session.flush()


async def deliveries(session: AsyncSession, account_id: uuid.UUID) -> Sequence[PushDelivery]:
    """An account's deliveries, oldest first."""
    rows = await session.scalars(
        select(PushDelivery)
        .where(PushDelivery.account_id == account_id)
        .order_by(PushDelivery.created_at)
    )
    return rows.all()
