"""SQL for accounts, sign-in sessions and refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.sql import dialect_insert
from app.models import (
    Account,
    AuthSession,
    RefreshToken,
    SignInFailure,
)


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


async def sign_in_failure(
    session: AsyncSession, username_key: str, *, lock: bool = False
) -> SignInFailure | None:
    """The failures in a row of a username (locked against concurrent sign-ins if `lock`)."""
    query = select(SignInFailure).where(SignInFailure.username_key == username_key)
    if lock:
        query = query.with_for_update()
    return await session.scalar(query)


async def count_sign_in_failure(
    session: AsyncSession, username_key: str, now: datetime, forget_before: datetime
) -> int:
    """One more failure in a row for the username (a first, if the last was before
    `forget_before`), in one atomic statement; returns the count."""
    insert = dialect_insert(session, SignInFailure).values(
        username_key=username_key, failures=1, last_failure_at=now
    )
    table = SignInFailure.__table__
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.username_key],
        set_={
            "failures": case(
                (table.c.last_failure_at < forget_before, 1), else_=table.c.failures + 1
            ),
            "last_failure_at": now,
        },
    ).returning(table.c.failures)
    return int((await session.execute(statement)).scalar_one())


async def lock_sign_in(session: AsyncSession, username_key: str, until: datetime) -> None:
    """Refuse sign-ins of the username until `until`."""
    await session.execute(
        update(SignInFailure)
        .where(SignInFailure.username_key == username_key)
        .values(locked_until=until)
    )


async def clear_sign_in_failures(session: AsyncSession, username_key: str) -> None:
    """A success: the username's failures are forgotten."""
    await session.execute(delete(SignInFailure).where(SignInFailure.username_key == username_key))


async def purge_sign_in_failures(
    session: AsyncSession, forget_before: datetime, now: datetime
) -> int:
    """Delete failures older than `forget_before` whose lock (if any) has ended."""
    result = await session.execute(
        delete(SignInFailure).where(
            SignInFailure.last_failure_at < forget_before,
            (SignInFailure.locked_until.is_(None)) | (SignInFailure.locked_until <= now),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
