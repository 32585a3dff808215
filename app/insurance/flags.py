"""Claim review: a family doctor or bureau reviewer flags a settlement as doubtful."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

import app.insurance.messages  # noqa: F401 - registers the error texts
from app.audit import service as audit_service
from app.audit.service import AuditAction
from app.authz.principal import Principal
from app.errors import NotFound
from app.insurance import repository as insurance_repository
from app.kit.clock import utcnow
from app.models import Settlement, SettlementFlag

RESOURCE = "settlement_flag"


async def flag(
    session: AsyncSession, principal: Principal, settlement_id: uuid.UUID, reason: str
) -> SettlementFlag:
    """Flag a settlement the reviewer may see; flagging again returns the first flag."""
    settlement = await insurance_repository.get_visible_settlement(
        session, principal, settlement_id, utcnow()
    )
    if settlement is None:
        raise NotFound("settlement_not_found")
    existing = await insurance_repository.flag_by_reviewer(
        session, settlement.id, principal.account_id
    )
    if existing is not None:
        return existing
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


async def flagged(
    session: AsyncSession, before: datetime | None, limit: int
) -> Sequence[tuple[SettlementFlag, Settlement]]:
    """Flags with their settlements for the bureau, newest first."""
    return await insurance_repository.list_flags(session, before, limit)
