"""Domain events: the facts a service records in its unit of work, and the one dispatcher that
hands them to their subscribers.

A service says what happened (`await events.record(session, OrderTransitioned(...))`) and does
not know who listens; `app/wiring.py` declares every subscription. Subscribers run in one of two
phases:

- in the transaction: at once, in declaration order, with the recording service's session. What
  they write commits or rolls back with the service's own work, and an error they raise fails
  the whole request (e.g. settlement at hand-over: no hand-over without its settlement).
- after commit: once the session has committed, never when it rolls back (e.g. a realtime
  push). A failure is logged only; what must not be lost goes to the outbox in the transaction.

The events a unit of work recorded stay readable on its session (`recorded`), which is how tests
and the audit of a flow see what a call did.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit

E = TypeVar("E")
Subscriber = Callable[[AsyncSession, E], Awaitable[None]]

_RECORDED_KEY = "domain_events"


class EventsNotWired(RuntimeError):
    """An event was recorded before the process declared its subscriptions."""


class Dispatcher:
    """Subscriptions by event type, for both phases; filled once by the wiring module."""

    def __init__(self) -> None:
        self._in_transaction: dict[type[Any], list[Subscriber[Any]]] = defaultdict(list)
        self._after_commit: dict[type[Any], list[Subscriber[Any]]] = defaultdict(list)
        self.wired = False

    def in_transaction(self, event_type: type[E], subscriber: Subscriber[E]) -> None:
        """Run `subscriber` inside the recording transaction whenever `event_type` is recorded."""
        self._in_transaction[event_type].append(subscriber)

    def after_commit(self, event_type: type[E], subscriber: Subscriber[E]) -> None:
        """Run `subscriber` once the recording transaction has committed."""
        self._after_commit[event_type].append(subscriber)

    def subscribers(self, event_type: type[Any]) -> tuple[list[Subscriber[Any]], ...]:
        """The (in-transaction, after-commit) subscribers of `event_type`."""
        return list(self._in_transaction.get(event_type, ())), list(
            self._after_commit.get(event_type, ())
        )

    def clear(self) -> None:
        """Forget every subscription (for a process that wires itself again)."""
        self._in_transaction.clear()
        self._after_commit.clear()
        self.wired = False

    async def dispatch(self, session: AsyncSession, event: object) -> None:
        """Run the in-transaction subscribers of `event` now; queue the after-commit ones."""
        if not self.wired:
            raise EventsNotWired(f"{type(event).__name__} recorded before app.wiring.wire()")
        session.info.setdefault(_RECORDED_KEY, []).append(event)
        for subscriber in self._in_transaction.get(type(event), ()):
            await subscriber(session, event)
        for subscriber in self._after_commit.get(type(event), ()):
            after_commit(session, _bound(subscriber, session, event))


def _bound(
    subscriber: Subscriber[Any], session: AsyncSession, event: object
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await subscriber(session, event)

    return run


# The process's dispatcher: services record into it, `app.wiring.wire()` subscribes to it.
dispatcher = Dispatcher()


async def record(session: AsyncSession, event: object) -> None:
    """Record `event` as a fact of `session`'s unit of work (and hand it to its subscribers)."""
    await dispatcher.dispatch(session, event)


def recorded(session: AsyncSession) -> list[object]:
    """The events recorded in `session`'s unit of work so far, oldest first."""
    return list(session.info.get(_RECORDED_KEY, ()))
