"""Claim review: a family doctor or bureau reviewer flags a settlement as doubtful (存疑, as
the Huanghua family doctors do in their app), and the bureau decides.

While a reviewer's flag is open the settlement is held out of its statement's payable (listed
as disputed, with its amount); the service's own flag on a split the insurance platform settled
otherwise than estimated holds nothing (see `flag_platform_difference`). The bureau's review
closes every open flag at once: confirmed, the settlement is paid with the next statement made;
rejected, it is reversed (limit and deductible restored, the patient's payments refunded) and,
if it had already been paid, the next statement recovers it. Flags and reviews of one
settlement are serialised by a row lock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit_service
from app.audit.service import AuditAction, SystemActor
from app.authz.principal import Principal
from app.errors import Conflict, NotFound
from app.insurance import flag_repository
from app.insurance import repository as insurance_repository
from app.insurance import settlement as settlement_service
from app.kit.clock import utcnow
from app.models import FlagReview, Settlement, SettlementFlag

RESOURCE = "settlement_flag"
REVIEW_RESOURCE = "settlement_flag_review"
DECISIONS = frozenset({"confirmed", "rejected"})
# Who the bureau sees as the reviewer of a platform difference flag.
PLATFORM_REVIEWER = "医保信息平台"
# Who raised it, in the audit trail: the platform's settlement decided the difference.
PLATFORM = SystemActor(flag_repository.PLATFORM_ROLE, PLATFORM_REVIEWER)


async def _locked(
    session: AsyncSession, principal: Principal, settlement_id: uuid.UUID
) -> Settlement:
    """The settlement if the caller may see it, locked for its review."""
    visible = await insurance_repository.get_visible_settlement(
        session, principal, settlement_id, utcnow()
    )
    if visible is None:
        raise NotFound("settlement_not_found")
    settlement = await flag_repository.lock_settlement(session, visible.id)
    assert settlement is not None
    return settlement


async def flag(
    session: AsyncSession, principal: Principal, settlement_id: uuid.UUID, reason: str
) -> SettlementFlag:
    """Flag a settlement the reviewer may see; flagging again returns the first flag."""
    settlement = await _locked(session, principal, settlement_id)
    existing = await insurance_repository.flag_by_reviewer(
        session, settlement.id, principal.account_id
    )
    if existing is not None:
        return existing
    if settlement.kind != "settlement":
        raise Conflict("flag_on_reversal")
    if await insurance_repository.reversal_of(session, settlement.id) is not None:
        raise Conflict("settlement_already_reversed")
    row = SettlementFlag(
        settlement_id=settlement.id,
        account_id=principal.account_id,
        role=str(principal.role),
        reviewer_name=principal.display_name,
        reason=reason,
        flagged_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await audit_service.record(
        session, principal, AuditAction.create, RESOURCE, row.id, settlement.patient_id
    )
    return row


async def flag_platform_difference(
    session: AsyncSession, settlement: Settlement, reason: str
) -> SettlementFlag:
    """The service's own flag on a settlement the insurance platform settled with another fund
    share than the local estimate: the bureau's rules and the service's rules table disagree.
    It waits in the bureau's claim review but holds nothing out of the payable: the platform
    decided the split and it is what was booked (a rejection still reverses the settlement).
    Raised once per settlement; audited as the platform's act."""
    existing = await flag_repository.platform_flag(session, settlement.id)
    if existing is not None:
        return existing
    row = SettlementFlag(
        settlement_id=settlement.id,
        account_id=None,
        role=flag_repository.PLATFORM_ROLE,
        reviewer_name=PLATFORM_REVIEWER,
        reason=reason[:500],
        flagged_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    await audit_service.record(
        session, PLATFORM, AuditAction.create, RESOURCE, row.id, settlement.patient_id
    )
    return row


async def review(
    session: AsyncSession,
    principal: Principal,
    settlement_id: uuid.UUID,
    decision: str,
    note: str,
) -> FlagReview:
    """The bureau decides the open flags of a settlement. Deciding again the same way returns
    the review; another decision once none is open is 409."""
    assert decision in DECISIONS
    settlement = await _locked(session, principal, settlement_id)
    flags = await flag_repository.open_flags(session, settlement.id)
    if not flags:
        latest = await flag_repository.latest_review(session, settlement.id)
        if latest is None:
            raise Conflict("settlement_not_flagged")
        if latest.decision == decision:
            return latest
        raise Conflict("flag_review_decided", decision=latest.decision)
    reversal_id = None
    if decision == "rejected":
        reversal = await insurance_repository.reversal_of(session, settlement.id)
        if reversal is None:
            reversal = await settlement_service.reverse(
                session,
                settlement.id,
                f"医保审核拒付：{note}"[:200],
                message_id=f"review-{settlement.id.hex}",
            )
        reversal_id = reversal.id
    row = FlagReview(
        settlement_id=settlement.id,
        decision=decision,
        note=note,
        account_id=principal.account_id,
        reviewer_name=principal.display_name,
        decided_at=utcnow(),
        reversal_id=reversal_id,
    )
    session.add(row)
    await session.flush()
    await flag_repository.close_flags(session, [f.id for f in flags], row.id)
    for closed in flags:
        closed.review_id = row.id
    await audit_service.record(
        session, principal, AuditAction.create, REVIEW_RESOURCE, row.id, settlement.patient_id
    )
    return row


async def flagged(
    session: AsyncSession, before: datetime | None, limit: int
) -> Sequence[tuple[SettlementFlag, Settlement]]:
    """Flags with their settlements for the bureau, newest first."""
    return await insurance_repository.list_flags(session, before, limit)


async def reviews_of(
    session: AsyncSession, flags: Sequence[SettlementFlag]
) -> dict[uuid.UUID, FlagReview]:
    """The reviews that decided these flags."""
    return await flag_repository.reviews_by_id(
        session, list({f.review_id for f in flags if f.review_id})
    )
