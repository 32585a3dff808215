"""The `Idempotency-Key` header of the endpoints that take one: bound to the caller and to the
request's fingerprint (app/idempotency/keys.py), so a key reused with another request is 422
`idempotency_key_reused` (as Stripe does) instead of silently replaying the first result.

Use `IdempotencyKey` (optional) or `RequiredIdempotencyKey` as an endpoint parameter; the
endpoint's own key lookup then finds the first request's effect on a replay.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from app.authz.principal import CurrentPrincipal
from app.db import DbSession
from app.idempotency import keys

_DESCRIPTION = (
    "Makes a retry safe: the same key with the same request replays the first result; the "
    "same key with another path or body is 422 idempotency_key_reused"
)


async def _bind(
    request: Request, principal: CurrentPrincipal, session: DbSession, key: str
) -> None:
    body = await request.body()
    await keys.claim(
        session,
        str(principal.account_id),
        key,
        keys.fingerprint(request.method, request.url.path, request.url.query, body),
    )


def _header(min_length: int) -> Any:
    return Header(
        alias="Idempotency-Key", min_length=min_length, max_length=64, description=_DESCRIPTION
    )


_OptionalHeader = Annotated[str | None, _header(1)]
_RequiredHeader = Annotated[str, _header(1)]
# Orders ask for keys of at least 8 characters: a phone's key collides with nothing else.
_OrderHeader = Annotated[str, _header(8)]


async def optional_key(
    request: Request, principal: CurrentPrincipal, session: DbSession, key: _OptionalHeader = None
) -> str | None:
    """The request's Idempotency-Key, if sent, bound to this request."""
    if key is not None:
        await _bind(request, principal, session, key)
    return key


async def required_key(
    request: Request, principal: CurrentPrincipal, session: DbSession, key: _RequiredHeader
) -> str:
    """The request's Idempotency-Key (required), bound to this request."""
    await _bind(request, principal, session, key)
    return key


async def required_order_key(
    request: Request, principal: CurrentPrincipal, session: DbSession, key: _OrderHeader
) -> str:
    """An order's Idempotency-Key (required, 8 characters or more), bound to this request."""
    await _bind(request, principal, session, key)
    return key


IdempotencyKey = Annotated[str | None, Depends(optional_key)]
RequiredIdempotencyKey = Annotated[str, Depends(required_key)]
RequiredOrderKey = Annotated[str, Depends(required_order_key)]
