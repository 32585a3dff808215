"""Writing side effects to the outbox inside the caller's business transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.clock import utcnow
from app.outbox import repository as outbox_repository

log = structlog.get_logger(__name__)

MAX_KIND_CHARS = 64
MAX_IDEMPOTENCY_KEY_CHARS = 128


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any],
    idempotency_key: str,
    available_at: datetime | None = None,
) -> None:
    """Add a side effect to the caller's transaction (sent only if it commits; never commits)."""
    # An existing idempotency key makes this a no-op, so a retried business operation cannot
    # send twice. `available_at` (timezone-aware) delays the first attempt.
    # SQLite does not enforce VARCHAR lengths; refuse here so both databases behave alike.
    if not 0 < len(kind) <= MAX_KIND_CHARS:
        raise ValueError(f"outbox kind must be 1-{MAX_KIND_CHARS} characters")
    if not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        raise ValueError(f"outbox idempotency key must be 1-{MAX_IDEMPOTENCY_KEY_CHARS} characters")
    added = await outbox_repository.insert_message(
        session,
        {
            "kind": kind,
            "payload": payload,
            "idempotency_key": idempotency_key,
            "status": outbox_repository.PENDING,
            "attempts": 0,
            "next_attempt_at": available_at or utcnow(),
        },
    )
    if not added:
        log.info("outbox message already enqueued", kind=kind, idempotency_key=idempotency_key)
