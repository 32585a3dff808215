"""The authenticated caller of a request, loaded once per request from its access token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from app.authz import repository as authz_repository
from app.authz.access_tokens import decode_access_token
from app.db import DbSession
from app.errors import Forbidden, Unauthorized
from app.kit.clock import utcnow
from app.models import Role


@dataclass(frozen=True)
class Principal:
    """Who is calling, in which role, and the profile ids their scopes are built from."""

    account_id: uuid.UUID
    session_id: uuid.UUID
    role: Role
    display_name: str
    patient_id: uuid.UUID | None = None
    doctor_id: uuid.UUID | None = None
    store_id: uuid.UUID | None = None


_bearer = HTTPBearer(auto_error=False, description="Access token from /api/v1/auth/*-login")


async def load_principal(
    session: AsyncSession, token: str, connection: HTTPConnection
) -> Principal:
    """Verify an access token and load its live session; revoked or disabled is 401."""
    claims = decode_access_token(connection.app.state.settings, token)
    row = await authz_repository.get_live_principal_row(
        session, claims.account_id, claims.session_id, utcnow()
    )
    if row is None:
        raise Unauthorized("session_revoked")
    return Principal(
        account_id=row.account_id,
        session_id=claims.session_id,
        role=Role(row.role),
        display_name=row.display_name,
        patient_id=row.patient_id,
        doctor_id=row.doctor_id,
        store_id=row.store_id,
    )


async def session_is_live(session: AsyncSession, principal: Principal) -> bool:
    """Whether the principal's sign-in session is still live (not revoked, expired, disabled)."""
    row = await authz_repository.get_live_principal_row(
        session, principal.account_id, principal.session_id, utcnow()
    )
    return row is not None


async def current_principal(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of this request; 401 without a valid bearer token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("not_authenticated")
    principal = await load_principal(session, credentials.credentials, request)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


# Each guard made by require_roles, with the roles it admits (for the OpenAPI description).
_ROLE_GUARDS: dict[object, frozenset[Role]] = {}


def require_roles(*roles: Role) -> object:
    """A dependency that admits only the given roles (403 for any other signed-in role)."""
    allowed = frozenset(roles)

    async def _guard(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden()
        return principal

    _ROLE_GUARDS[_guard] = allowed
    return Depends(_guard)


def roles_admitted_by(dependency: object) -> frozenset[Role] | None:
    """The roles a `require_roles` guard admits; None for any other dependency."""
    return _ROLE_GUARDS.get(dependency)
