"""SQL for accounts, sign-in sessions and refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Account, AuthSession, Doctor, Patient, PharmacyStaff, RefreshToken


async def get_account_by_username(session: AsyncSession, username: str) -> Account | None:
    """The staff account with this username."""
    return await session.scalar(select(Account).where(Account.username == username))


async def get_account_by_openid(session: AsyncSession, openid: str) -> Account | None:
    """The patient account bound to this WeChat openid."""
    return await session.scalar(select(Account).where(Account.wechat_openid == openid))


async def add(session: AsyncSession, *rows: Any) -> None:
    """Stage new rows and flush, so constraint violations surface here."""
    session.add_all(rows)
    await session.flush()


async def get_refresh_token_for_update(
    session: AsyncSession, token_hash: str
) -> tuple[RefreshToken, AuthSession] | None:
    """A refresh token and its session, locked against a concurrent rotation (PostgreSQL)."""
    row = (
        await session.execute(
            select(RefreshToken, AuthSession)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update(of=RefreshToken)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def get_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    """The refresh token with this hash."""
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))


async def revoke_session(
    session: AsyncSession, session_id: uuid.UUID, reason: str, now: datetime
) -> None:
    """End a sign-in session: its access and refresh tokens stop working."""
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )


# Built once: it runs on every authenticated request, and building a statement costs more
# than running it (the compiled form is cached by the statement's shape).
_LIVE_PRINCIPAL = (
    select(
        Account.id.label("account_id"),
        Account.role,
        Account.display_name,
        Patient.id.label("patient_id"),
        Doctor.id.label("doctor_id"),
        PharmacyStaff.store_id.label("store_id"),
    )
    .join(AuthSession, AuthSession.account_id == Account.id)
    .outerjoin(Patient, Patient.account_id == Account.id)
    .outerjoin(Doctor, Doctor.account_id == Account.id)
    .outerjoin(PharmacyStaff, PharmacyStaff.account_id == Account.id)
    .where(
        Account.id == bindparam("account_id"),
        Account.is_active.is_(True),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
)


async def get_live_principal_row(
    session: AsyncSession, account_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> Row[*tuple[Any, ...]] | None:
    """The account and profile ids behind a live (unrevoked, unexpired) session, in one query."""
    params = {"account_id": account_id, "session_id": session_id, "now": now}
    return (await session.execute(_LIVE_PRINCIPAL, params)).first()
