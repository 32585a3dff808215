"""Readiness: every part this process needs, and whether it is up right now.

Parts: the database (answers, schema at the migrations' head); Redis (answers a PING, when
REDIS_URL is set); realtime (the hub's Redis listener is subscribed, so a socket can register);
the outbox relay (running, when OUTBOX_RELAY_ENABLED); the periodic jobs (running, when
BACKGROUND_JOBS_ENABLED). A part that is down makes /readyz answer 503 with its code, and the
state of every part.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from app.errors import ServiceUnavailable
from app.health import migrations_state
from app.realtime.hub import RealtimeHub

OK = "ok"
OUTBOX_RELAY_TASK = "outbox-relay"

# The problem code of the first part that is down, in this order.
_PROBLEMS = (
    ("database", "unreachable", "database_unreachable"),
    ("database", "schema_not_at_head", "schema_not_at_head"),
    ("redis", "unreachable", "redis_unreachable"),
    ("realtime", "not_listening", "realtime_not_listening"),
    ("outbox_relay", "stopped", "outbox_relay_stopped"),
    ("background_jobs", "stopped", "background_jobs_stopped"),
)


class NotReady(ServiceUnavailable):
    """503 naming the first part that is down (one of `_PROBLEMS`' codes)."""

    codes = tuple(code for _, _, code in _PROBLEMS)


@dataclass
class Readiness:
    """Each part's state ("ok", "disabled", "not_configured" or what is wrong)."""

    parts: dict[str, str]
    schema_revisions: list[str] = field(default_factory=list)
    expected_revisions: list[str] = field(default_factory=list)

    @property
    def problem(self) -> str | None:
        """The code of the first part that is down, or None when the process is ready."""
        for part, state, code in _PROBLEMS:
            if self.parts.get(part) == state:
                return code
        return None


async def check(session: AsyncSession, state: State) -> Readiness:
    """The state of every part of this process (each check bounded by its own timeout)."""
    settings = state.settings
    expected = list(migrations_state.head_revisions())
    current: list[str] = []
    try:
        current = list(await migrations_state.current_revisions(session))
        database = OK if current == expected else "schema_not_at_head"
    except Exception:
        database = "unreachable"
    hub: RealtimeHub = state.hub
    parts = {"database": database, **await hub.readiness()}
    tasks: list[asyncio.Task[None]] = getattr(state, "background_tasks", [])
    relay = [t for t in tasks if t.get_name() == OUTBOX_RELAY_TASK]
    jobs = [t for t in tasks if t.get_name() != OUTBOX_RELAY_TASK]
    parts["outbox_relay"] = _running(settings.outbox_relay_enabled, relay)
    parts["background_jobs"] = _running(settings.background_jobs_enabled, jobs)
    return Readiness(parts, current, expected)


def _running(enabled: bool, tasks: list[asyncio.Task[None]]) -> str:
    if not enabled:
        return "disabled"
    return OK if tasks and not any(t.done() for t in tasks) else "stopped"
