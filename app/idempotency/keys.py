"""Idempotency keys bound to the request that first used them (the Stripe rule): the same key
with the same request is a retry and replays; the same key with another request is refused.

A key belongs to a scope (the caller's account). Its fingerprint is SHA-256 over the method,
the path, the query and the body (JSON canonicalised: key order and spacing do not matter). The
fingerprint row is written in the request's own transaction, so it exists exactly when the
request's effect does, and PostgreSQL makes a concurrent request with the same key wait for
the first one's commit before it compares - then the endpoint finds the first one's effect.

Keys are kept IDEMPOTENCY_KEY_RETENTION_HOURS (7 days by default: clients retry within minutes,
the mini-program's offline queue within a day), then the worker's `idempotency-keys` job forgets
them; the effects themselves keep their own keys (an order, a transition, a payment).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.errors import AppError
from app.idempotency import repository as idempotency_repository
from app.kit.clock import utcnow


class IdempotencyKeyReused(AppError):
    """The key was first used with another request (another path, query or body)."""

    status = 422
    code = "idempotency_key_reused"


def _canonical_body(body: bytes) -> bytes:
    if not body:
        return b""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """SHA-256 (hex) of what makes two requests the same request."""
    digest = hashlib.sha256()
    for part in (
        method.upper().encode(),
        path.encode(),
        urlencode(sorted(parse_qsl(query, keep_blank_values=True))).encode(),
        _canonical_body(body),
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def claim(session: AsyncSession, scope: str, key: str, request_fingerprint: str) -> bool:
    """Bind `key` to this request in the current transaction; True when the key is new, False
    when it replays the same request (the caller answers from the first effect). Raises
    IdempotencyKeyReused when the key was bound to another request."""
    if await idempotency_repository.bind(session, scope, key, request_fingerprint):
        return True
    if await idempotency_repository.fingerprint_of(session, scope, key) != request_fingerprint:
        raise IdempotencyKeyReused()
    return False


async def forget_expired(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Delete the keys older than the retention; how many (the worker's job)."""
    before = utcnow() - timedelta(hours=settings.idempotency_key_retention_hours)
    async with sessionmaker() as session, session.begin():
        return await idempotency_repository.delete_older_than(session, before)
