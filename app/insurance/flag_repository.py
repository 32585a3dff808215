"""SQL for claim review: locking a settlement under review, open flags, reviews and the
dispute state statements hold or release money by."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import one_of
from app.models import FlagReview, Settlement, SettlementFlag

# The role of the flag the service raises itself (no account) when the insurance platform
# settled another split than the local estimate (it holds nothing out of a payable).
PLATFORM_ROLE = "platform"


class Dispute(StrEnum):
    """Where the review of a flagged settlement stands."""

    open = "open"  # a flag awaits the bureau's decision: held out of the payable
    rejected = "rejected"  # the bureau rejected the claim: reversed, never paid
    confirmed = "confirmed"  # every flag decided in the claim's favour: paid


async def lock_settlement(session: AsyncSession, settlement_id: uuid.UUID) -> Settlement | None:
    """A settlement row locked until the transaction ends, so flags and reviews of one claim
    happen one at a time (FOR NO KEY UPDATE: rows referring to it are not blocked; the row
    itself is append-only and never updated)."""
    return await session.scalar(
        select(Settlement).where(Settlement.id == settlement_id).with_for_update(key_share=True)
    )


async def open_flags(session: AsyncSession, settlement_id: uuid.UUID) -> Sequence[SettlementFlag]:
    """Flags on a settlement that no review has decided yet, oldest first."""
    return (
        await session.scalars(
            select(SettlementFlag)
            .where(
                SettlementFlag.settlement_id == settlement_id, SettlementFlag.review_id.is_(None)
            )
            .order_by(SettlementFlag.flagged_at, SettlementFlag.id)
        )
    ).all()


async def platform_flag(session: AsyncSession, settlement_id: uuid.UUID) -> SettlementFlag | None:
    """The service's own flag on a settlement (a differing platform split), if raised."""
    return await session.scalar(
        select(SettlementFlag).where(
            SettlementFlag.settlement_id == settlement_id, SettlementFlag.role == PLATFORM_ROLE
        )
    )


async def close_flags(
    session: AsyncSession, flag_ids: Sequence[uuid.UUID], review_id: uuid.UUID
) -> None:
    """Mark flags as decided by a review."""
    await session.execute(
        update(SettlementFlag)
        .where(one_of(session, SettlementFlag.id, flag_ids))
        .values(review_id=review_id)
        .execution_options(synchronize_session=False)
    )


async def latest_review(session: AsyncSession, settlement_id: uuid.UUID) -> FlagReview | None:
    """The most recent review of a settlement."""
    return await session.scalar(
        select(FlagReview)
        .where(FlagReview.settlement_id == settlement_id)
        .order_by(FlagReview.decided_at.desc(), FlagReview.id)
        .limit(1)
    )


async def reviews_by_id(
    session: AsyncSession, review_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, FlagReview]:
    """Reviews by id."""
    if not review_ids:
        return {}
    rows = await session.scalars(
        select(FlagReview).where(one_of(session, FlagReview.id, review_ids))
    )
    return {row.id: row for row in rows}


async def flags_of(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[SettlementFlag]]:
    """Every flag of each settlement, oldest first."""
    if not settlement_ids:
        return {}
    rows = await session.scalars(
        select(SettlementFlag)
        .where(one_of(session, SettlementFlag.settlement_id, settlement_ids))
        .order_by(SettlementFlag.flagged_at, SettlementFlag.id)
    )
    found: dict[uuid.UUID, list[SettlementFlag]] = {}
    for row in rows:
        found.setdefault(row.settlement_id, []).append(row)
    return found


async def disputes(
    session: AsyncSession, settlement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Dispute]:
    """The dispute state of each disputed settlement among these (absent: never flagged, or
    flagged only by the platform and not yet reviewed)."""
    flags = await flags_of(session, settlement_ids)
    reviews = await reviews_by_id(
        session, list({f.review_id for rows in flags.values() for f in rows if f.review_id})
    )
    states: dict[uuid.UUID, Dispute] = {}
    for settlement_id, rows in flags.items():
        decided = [reviews[f.review_id].decision for f in rows if f.review_id]
        # The platform's own open flag disputes nothing: the platform decided that split.
        if any(f.review_id is None and f.role != PLATFORM_ROLE for f in rows):
            states[settlement_id] = Dispute.open
        elif "rejected" in decided:
            states[settlement_id] = Dispute.rejected
        elif decided:
            states[settlement_id] = Dispute.confirmed
    return states
