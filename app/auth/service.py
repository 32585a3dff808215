"""Sign-in rules: WeChat and password login, refresh-token rotation with reuse detection, logout."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository as auth_repository
from app.auth.errors import SignInLocked
from app.auth.schemas import AccountOut, TokenPair
from app.auth.sign_in_guard import SignInGuard
from app.auth.tokens import hash_refresh_token, new_refresh_token, successor_refresh_token
from app.auth.wechat import WeChatClient
from app.authz import repository as authz_repository
from app.authz.access_tokens import AccessClaims, issue_access_token
from app.config import Settings
from app.errors import Unauthorized
from app.kit.clock import utcnow
from app.kit.repository import by_id
from app.models import Account, AuthSession, Patient, RefreshToken, Role, SignInFailure

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PasswordAttempt:
    """A password sign-in as it arrived: what was typed, from where, with which client."""

    username: str
    password: str
    client_address: str
    user_agent: str | None


async def login_with_wechat(
    session: AsyncSession,
    settings: Settings,
    wechat: WeChatClient,
    code: str,
    user_agent: str | None,
) -> TokenPair:
    """Exchange a wx.login code; a first-time openid becomes a new patient account."""
    identity = await wechat.code_to_session(code)
    account = await auth_repository.get_account_by_openid(session, identity.openid)
    if account is None:
        account = Account(
            id=uuid.uuid4(),
            role=Role.patient,
            display_name="微信用户",
            wechat_openid=identity.openid,
        )
        await auth_repository.add(session, account)
        await auth_repository.add(session, Patient(account_id=account.id))
        log.info("patient account created", account_id=str(account.id))
    _ensure_active(account)
    return await start_session(session, settings, account, user_agent)


@dataclass(frozen=True)
class PasswordCandidate:
    """What a password attempt is checked against, once the checks before it have passed."""

    username_key: str
    account_id: uuid.UUID | None
    password_hash: str | None


async def password_candidate(
    session: AsyncSession, guard: SignInGuard, attempt: PasswordAttempt
) -> PasswordCandidate:
    """The checks before a password is hashed: the client address's rate limit, the
    username's lockout (a row per username, known or not, so both answer alike) and the
    username's rate limit; then the stored hash to check against (none for an unknown name)."""
    key = username_key(attempt.username)
    await guard.count_address(attempt.client_address)
    _refuse_if_locked(await auth_repository.sign_in_failure(session, key), utcnow())
    await guard.count_username(key)
    account = await auth_repository.get_account_by_username(session, attempt.username)
    if account is None:
        return PasswordCandidate(key, None, None)
    return PasswordCandidate(key, account.id, account.password_hash)


async def conclude_password_login(
    session: AsyncSession,
    settings: Settings,
    candidate: PasswordCandidate,
    verified: bool,
    user_agent: str | None,
) -> TokenPair:
    """Sign in after a right password; count a wrong one (a wrong username and a wrong
    password answer the same)."""
    if not verified or candidate.account_id is None:
        await _count_failure(session, settings, candidate.username_key, utcnow())
        raise Unauthorized("invalid_credentials", keep_changes=True)
    # Failures committed by concurrent attempts while this one was hashing still lock it.
    locked = await auth_repository.sign_in_failure(session, candidate.username_key, lock=True)
    _refuse_if_locked(locked, utcnow())
    await auth_repository.clear_sign_in_failures(session, candidate.username_key)
    account = await by_id(session, Account, candidate.account_id)
    if account is None:
        raise Unauthorized("invalid_credentials")
    _ensure_active(account)
    return await start_session(session, settings, account, user_agent)


def username_key(username: str) -> str:
    """The key a username's failures are counted under (case does not dodge the lockout)."""
    return username.strip().casefold()[:64]


def _refuse_if_locked(failure: SignInFailure | None, now: datetime) -> None:
    if failure is not None and failure.locked_until is not None and failure.locked_until > now:
        retry_after = max(1, math.ceil((failure.locked_until - now).total_seconds()))
        raise SignInLocked(retry_after=retry_after)


async def _count_failure(
    session: AsyncSession, settings: Settings, key: str, now: datetime
) -> None:
    """Count a wrong password; from the threshold on, lock the username for a time that
    doubles with every further failure, up to the maximum."""
    forget_before = now - timedelta(seconds=settings.password_failure_memory_seconds)
    failures = await auth_repository.count_sign_in_failure(session, key, now, forget_before)
    beyond = failures - settings.password_lockout_threshold
    if beyond < 0:
        return
    seconds = min(
        settings.password_lockout_max_seconds,
        settings.password_lockout_base_seconds * 2 ** min(beyond, 32),
    )
    await auth_repository.lock_sign_in(session, key, now + timedelta(seconds=seconds))
    log.warning("sign-in locked after failures in a row", failures=failures, seconds=seconds)


async def purge_sign_in_failures(session: AsyncSession, settings: Settings) -> int:
    """Forget failures older than PASSWORD_FAILURE_MEMORY_SECONDS (periodic job)."""
    now = utcnow()
    forget_before = now - timedelta(seconds=settings.password_failure_memory_seconds)
    return await auth_repository.purge_sign_in_failures(session, forget_before, now)


async def refresh(session: AsyncSession, settings: Settings, refresh_token: str) -> TokenPair:
    """Rotate a refresh token. Presenting an already-rotated one revokes the whole session,
    unless it comes again within the grace window (two tabs at once, a retry after a lost
    answer): that repeat gets the same successor."""
    now = utcnow()
    found = await auth_repository.get_refresh_token_for_update(
        session, hash_refresh_token(refresh_token)
    )
    if found is None:
        raise Unauthorized("refresh_token_invalid")
    token, auth_session = found
    if auth_session.revoked_at is not None or auth_session.expires_at <= now:
        raise Unauthorized("refresh_token_invalid")
    successor = successor_refresh_token(settings, refresh_token)
    if token.used_at is not None:
        repeat = await _repeated_rotation(session, settings, token, successor, now)
        if repeat is not None:
            account = await _active_account_of(session, auth_session)
            return await _token_pair(session, settings, account, auth_session, repeat, now)
        # Someone holds a copy of a token that was already exchanged: end the family.
        await auth_repository.revoke_session(session, auth_session.id, "refresh_token_reuse", now)
        log.warning("refresh token reuse; session revoked", session_id=str(auth_session.id))
        raise Unauthorized("refresh_token_reused", keep_changes=True)
    if token.expires_at <= now:
        raise Unauthorized("refresh_token_invalid")
    token.used_at = now
    account = await _active_account_of(session, auth_session)
    return await _issue_tokens(session, settings, account, auth_session, now, successor)


async def _repeated_rotation(
    session: AsyncSession,
    settings: Settings,
    token: RefreshToken,
    successor: str,
    now: datetime,
) -> tuple[str, RefreshToken] | None:
    """The successor already issued for `token`, when `token` comes again within the grace."""
    assert token.used_at is not None
    grace = timedelta(seconds=settings.refresh_token_reuse_grace_seconds)
    if now - token.used_at > grace:
        return None
    row = await auth_repository.get_refresh_token(session, hash_refresh_token(successor))
    if row is None or row.session_id != token.session_id:
        return None
    return successor, row


async def _active_account_of(session: AsyncSession, auth_session: AuthSession) -> Account:
    account = await by_id(session, Account, auth_session.account_id)
    assert account is not None
    _ensure_active(account)
    return account


async def logout(session: AsyncSession, session_id: uuid.UUID) -> None:
    """End the caller's sign-in session (access and refresh tokens alike)."""
    await auth_repository.revoke_session(session, session_id, "logout", utcnow())


def _ensure_active(account: Account) -> None:
    if not account.is_active:
        raise Unauthorized("account_disabled")


async def start_session(
    session: AsyncSession, settings: Settings, account: Account, user_agent: str | None
) -> TokenPair:
    """Open a sign-in session for an authenticated account and issue its first token pair."""
    now = utcnow()
    account.last_login_at = now
    auth_session = AuthSession(
        id=uuid.uuid4(),
        account_id=account.id,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
        user_agent=(user_agent or "")[:255] or None,
    )
    await auth_repository.add(session, auth_session)
    return await _issue_tokens(session, settings, account, auth_session, now)


async def _issue_tokens(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    auth_session: AuthSession,
    now: datetime,
    raw_refresh: str | None = None,
) -> TokenPair:
    raw_refresh = raw_refresh or new_refresh_token()
    refresh_row = RefreshToken(
        session_id=auth_session.id,
        token_hash=hash_refresh_token(raw_refresh),
        issued_at=now,
        expires_at=min(
            auth_session.expires_at, now + timedelta(seconds=settings.refresh_token_ttl_seconds)
        ),
    )
    await auth_repository.add(session, refresh_row)
    return await _token_pair(
        session, settings, account, auth_session, (raw_refresh, refresh_row), now
    )


async def _token_pair(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    auth_session: AuthSession,
    refresh: tuple[str, RefreshToken],
    now: datetime,
) -> TokenPair:
    """A new access token with the given refresh token (and its row)."""
    raw_refresh, refresh_row = refresh
    access = issue_access_token(
        settings, AccessClaims(account.id, auth_session.id, account.role), now
    )
    principal_row = await authz_repository.get_live_principal_row(
        session, account.id, auth_session.id, now
    )
    assert principal_row is not None
    return TokenPair(
        access_token=access,
        expires_in=settings.access_token_ttl_seconds,
        refresh_token=raw_refresh,
        refresh_expires_in=max(0, int((refresh_row.expires_at - now).total_seconds())),
        account=AccountOut(
            id=account.id,
            role=Role(account.role),
            display_name=account.display_name,
            patient_id=principal_row.patient_id,
            doctor_id=principal_row.doctor_id,
            store_id=principal_row.store_id,
        ),
    )
