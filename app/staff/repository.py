"""SQL for staff administration: accounts with where they work, sign-in sessions to end, and
the audited acts on an account."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    STAFF_ROLES,
    Account,
    AuditEvent,
    AuthSession,
    Doctor,
    Institution,
    PharmacyStaff,
    PharmacyStore,
    PrescriptionReviewer,
)

# The audit trail's resource type for acts on staff accounts.
STAFF_RESOURCE = "staff_account"


@dataclass(frozen=True)
class Placement:
    """A staff account and the rows that place it somewhere (none, or one of them)."""

    account: Account
    doctor: Doctor | None
    store_staff: PharmacyStaff | None
    reviewer: PrescriptionReviewer | None


_PLACEMENT = (
    select(Account, Doctor, PharmacyStaff, PrescriptionReviewer)
    .outerjoin(Doctor, Doctor.account_id == Account.id)
    .outerjoin(PharmacyStaff, PharmacyStaff.account_id == Account.id)
    .outerjoin(PrescriptionReviewer, PrescriptionReviewer.account_id == Account.id)
    .where(Account.role.in_(sorted(STAFF_ROLES)))
)


async def placement(
    session: AsyncSession, account_id: uuid.UUID, *, lock: bool = False
) -> Placement | None:
    """A staff account (never a patient's) with its placement rows; `lock` holds the account
    row so two acts on one account take turns. The rows are read once the lock is held: a
    read that waited for the lock in the same statement would return the placement rows as
    they were before the act it waited for (a move would move again from the old place)."""
    if lock:
        await session.execute(select(Account.id).where(Account.id == account_id).with_for_update())
    statement = _PLACEMENT.where(Account.id == account_id)
    row = (await session.execute(statement.execution_options(populate_existing=True))).first()
    return None if row is None else Placement(*row)


async def placement_by_username(session: AsyncSession, username: str) -> Placement | None:
    """A staff account by its username, with its placement rows."""
    row = (await session.execute(_PLACEMENT.where(Account.username == username))).first()
    return None if row is None else Placement(*row)


async def list_placements(
    session: AsyncSession, after_username: str | None, limit: int
) -> list[Placement]:
    """Staff accounts by username, after `after_username`, at most `limit`."""
    statement = _PLACEMENT.order_by(Account.username).limit(limit)
    if after_username is not None:
        statement = statement.where(Account.username > after_username)
    return [Placement(*row) for row in await session.execute(statement)]


async def usernames_taken(session: AsyncSession, usernames: Sequence[str]) -> set[str]:
    """Which of these usernames an account already has."""
    if not usernames:
        return set()
    found = await session.scalars(select(Account.username).where(Account.username.in_(usernames)))
    return {name for name in found if name is not None}


async def institutions_by_code(
    session: AsyncSession, codes: Sequence[str]
) -> dict[str, Institution]:
    """The institutions with these codes, by code."""
    if not codes:
        return {}
    rows = await session.scalars(select(Institution).where(Institution.code.in_(codes)))
    return {row.code: row for row in rows}


async def active_stores_by_code(
    session: AsyncSession, codes: Sequence[str]
) -> dict[str, PharmacyStore]:
    """The active stores with these codes, by code."""
    if not codes:
        return {}
    rows = await session.scalars(
        select(PharmacyStore).where(
            PharmacyStore.code.in_(codes), PharmacyStore.is_active.is_(True)
        )
    )
    return {row.code: row for row in rows}


async def get_institution(session: AsyncSession, institution_id: uuid.UUID) -> Institution | None:
    """One institution by id."""
    return await session.get(Institution, institution_id)


async def get_store(session: AsyncSession, store_id: uuid.UUID) -> PharmacyStore | None:
    """One store by id."""
    return await session.get(PharmacyStore, store_id)


async def revoke_sessions(
    session: AsyncSession, account_id: uuid.UUID, reason: str, now: datetime
) -> int:
    """End every live sign-in session of the account (its access and refresh tokens stop
    working); how many were live."""
    result = await session.execute(
        update(AuthSession)
        .where(AuthSession.account_id == account_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def history(
    session: AsyncSession, account_id: uuid.UUID, after_id: int | None, limit: int
) -> Sequence[AuditEvent]:
    """The audited acts on a staff account, oldest first, after event `after_id`."""
    statement = select(AuditEvent).where(
        AuditEvent.resource_type == STAFF_RESOURCE, AuditEvent.resource_id == str(account_id)
    )
    if after_id is not None:
        statement = statement.where(AuditEvent.id > after_id)
    return (await session.scalars(statement.order_by(AuditEvent.id).limit(limit))).all()
