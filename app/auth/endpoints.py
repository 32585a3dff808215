"""Sign-in endpoints: WeChat mini-program login, staff password login, refresh, logout, me."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response, status

from app.auth import service as auth_service
from app.auth.schemas import AccountOut, PasswordLogin, RefreshRequest, TokenPair, WeChatLogin
from app.auth.service import PasswordAttempt
from app.auth.sign_in_guard import sign_in_guard
from app.authz.principal import CurrentPrincipal
from app.db import DbSession, unit_of_work

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

UserAgent = Annotated[str | None, Header(include_in_schema=False)]


@router.post("/wechat-login", response_model=TokenPair)
async def wechat_login(
    body: WeChatLogin, request: Request, session: DbSession, user_agent: UserAgent = None
) -> TokenPair:
    """Patient sign-in from the mini-program with the code from `wx.login()`."""
    return await auth_service.login_with_wechat(
        session, request.app.state.settings, request.app.state.wechat, body.code, user_agent
    )


@router.post("/password-login", response_model=TokenPair)
async def password_login(
    body: PasswordLogin, request: Request, user_agent: UserAgent = None
) -> TokenPair:
    """Staff sign-in (doctor, pharmacist, courier, bureau, admin). Throttled per client address
    and per username (429 `sign_in_throttled`); failures in a row lock the username for a
    doubling time (429 `sign_in_locked`); both carry Retry-After. 503 `sign_in_busy` when more
    password checks wait than the process takes on."""
    state = request.app.state
    guard = sign_in_guard(state)
    attempt = PasswordAttempt(
        username=body.username,
        password=body.password,
        client_address=request.client.host if request.client else "unknown",
        user_agent=user_agent,
    )
    # Two short transactions around the password check instead of one request session held
    # across it: argon2 is ~0.2 s of CPU, and a connection held meanwhile (SQLite has one per
    # process, PostgreSQL a small pool) would make every other request wait for the flood.
    async with unit_of_work(state.sessionmaker) as session:
        candidate = await auth_service.password_candidate(session, guard, attempt)
    verified = await guard.verify(candidate.password_hash, attempt.password)
    async with unit_of_work(state.sessionmaker) as session:
        return await auth_service.conclude_password_login(
            session, state.settings, candidate, verified, attempt.user_agent
        )


@router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, request: Request, session: DbSession) -> TokenPair:
    """Exchange a refresh token for a new pair; each refresh token works once."""
    return await auth_service.refresh(session, request.app.state.settings, body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, session: DbSession) -> Response:
    """End this sign-in session on the server."""
    await auth_service.logout(session, principal.session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", response_model=AccountOut)
async def me(principal: CurrentPrincipal) -> AccountOut:
    """Who the access token belongs to."""
    return AccountOut(
        id=principal.account_id,
        role=principal.role,
        display_name=principal.display_name,
        patient_id=principal.patient_id,
        doctor_id=principal.doctor_id,
        store_id=principal.store_id,
    )
