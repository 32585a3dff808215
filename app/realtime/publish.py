"""Realtime pushes tied to the business transaction: sent only once it has committed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit
from app.realtime.hub import RealtimeHub, encode_event


def publish_after_commit(
    session: AsyncSession,
    hub: RealtimeHub,
    user_ids: Iterable[uuid.UUID],
    event: Mapping[str, Any],
) -> None:
    """Push `event` to `user_ids` after `session` commits; nothing is sent if it rolls back."""
    recipients = tuple(dict.fromkeys(user_ids))
    if not recipients:
        return
    # Encoded now: an event that cannot be sent fails inside the transaction, and later changes
    # the caller makes to `event` cannot leak into the push.
    snapshot = json.loads(encode_event(event))

    async def push() -> None:
        await hub.publish_many(recipients, snapshot)

    after_commit(session, push)
