"""SQL of the platform client: the message audit trail and the shared sign-in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import add_unique
from app.models import PlatformMessage, PlatformSignIn


async def add_message(session: AsyncSession, row: PlatformMessage) -> bool:
    """Keep a message; False when its (msgid, direction, attempt) is already taken."""
    return await add_unique(session, row)


async def messages_of(session: AsyncSession, msgid: str) -> Sequence[PlatformMessage]:
    """Everything kept about one message id, in the order it happened."""
    rows = await session.scalars(
        select(PlatformMessage)
        .where(PlatformMessage.msgid == msgid)
        .order_by(PlatformMessage.at, PlatformMessage.attempt, PlatformMessage.direction)
    )
    return rows.all()


async def latest_sign_in(
    session: AsyncSession, fixmedins_code: str, opter: str, day: date
) -> PlatformSignIn | None:
    """The operator's newest sign-in of the day, if any."""
    return await session.scalar(
        select(PlatformSignIn)
        .where(
            PlatformSignIn.fixmedins_code == fixmedins_code,
            PlatformSignIn.opter == opter,
            PlatformSignIn.sign_date == day,
        )
        .order_by(PlatformSignIn.generation.desc())
        .limit(1)
    )


async def add_sign_in(session: AsyncSession, row: PlatformSignIn) -> bool:
    """Keep a sign-in; False when another process kept this day's generation first."""
    return await add_unique(session, row)
