"""SQL of the platform client: the message audit trail, the shared sign-in and the platform's
settlements."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import add_unique, one_of
from app.models import (
    BenefitRule,
    ChronicDisease,
    Drug,
    InsuredIdentity,
    PlatformMessage,
    PlatformSettlement,
    PlatformSignIn,
)


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


async def requests_about(
    session: AsyncSession, subject: str, infno: str
) -> Sequence[PlatformMessage]:
    """The `infno` envelopes sent about `subject`, oldest first."""
    rows = await session.scalars(
        select(PlatformMessage)
        .where(
            PlatformMessage.subject == subject,
            PlatformMessage.infno == infno,
            PlatformMessage.direction == "request",
        )
        .order_by(PlatformMessage.at)
    )
    return rows.all()


async def answer_to(session: AsyncSession, msgid: str) -> PlatformMessage | None:
    """The platform's answer to a message, if one came."""
    return await session.scalar(
        select(PlatformMessage).where(
            PlatformMessage.msgid == msgid, PlatformMessage.direction == "answer"
        )
    )


async def undone(session: AsyncSession, msgid: str) -> bool:
    """Whether a void (2601) or reversal (2208) about message `msgid` was accepted."""
    found = await session.scalar(
        select(PlatformMessage.id)
        .where(
            PlatformMessage.subject == msgid,
            PlatformMessage.direction == "answer",
            PlatformMessage.infcode == 0,
        )
        .limit(1)
    )
    return found is not None


async def platform_settlement_by_msgid(
    session: AsyncSession, msgid: str
) -> PlatformSettlement | None:
    """The platform settlement a message made, if it was booked here."""
    return await session.scalar(select(PlatformSettlement).where(PlatformSettlement.msgid == msgid))


async def add_platform_settlement(session: AsyncSession, row: PlatformSettlement) -> None:
    session.add(row)
    await session.flush()


async def platform_settlements_for(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, PlatformSettlement]:
    """The platform's side of each of these local settlements that has one."""
    if not settlement_ids:
        return {}
    rows = await session.scalars(
        select(PlatformSettlement).where(
            one_of(session, PlatformSettlement.settlement_id, settlement_ids)
        )
    )
    return {row.settlement_id: row for row in rows}


async def verified_by_index(
    session: AsyncSession, national_id_index: str
) -> InsuredIdentity | None:
    """The newest verified identity with this certificate number (the dev fake's directory)."""
    return await session.scalar(
        select(InsuredIdentity)
        .where(InsuredIdentity.national_id_index == national_id_index)
        .order_by(InsuredIdentity.verified_at.desc())
        .limit(1)
    )


async def newest_rule_of_type(
    session: AsyncSession, insurance_type: str, on: date
) -> BenefitRule | None:
    """The newest benefit rule of an insurance type in force on `on`, whatever the disease and
    level (the dev fake settles one rule per insurance type)."""
    return await session.scalar(
        select(BenefitRule)
        .where(BenefitRule.insurance_type == insurance_type, BenefitRule.effective_from <= on)
        .order_by(BenefitRule.effective_from.desc(), BenefitRule.version.desc())
        .limit(1)
    )


async def drug_classes(session: AsyncSession, national_codes: Sequence[str]) -> dict[str, str]:
    """The insurance class (full, partial, self_pay) of each of these national drug codes."""
    rows = await session.execute(
        select(Drug.national_code, Drug.insurance_class).where(
            Drug.national_code.in_(national_codes)
        )
    )
    return {code: kind for code, kind in rows}


async def disease_by_code(session: AsyncSession, code: str) -> ChronicDisease | None:
    """The catalogue disease a visit's `dise_codg` names (the city's code)."""
    return await session.scalar(select(ChronicDisease).where(ChronicDisease.code == code))
