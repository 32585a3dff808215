"""What a handler receives and what it raises: the outbox's contract with side-effect senders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbox row claimed by a relay, detached from any session."""

    id: int
    kind: str
    payload: dict[str, Any]
    # Passed to the receiver on every attempt so that a redelivery has no second effect.
    idempotency_key: str
    # Deliveries started so far, this one included.
    attempts: int


# Returns when the side effect is done; raises when it is not (see the errors below).
Handler = Callable[[ClaimedMessage], Awaitable[None]]


class PermanentDeliveryError(Exception):
    """The receiver refused the message for good: retrying cannot help, the message is dead."""


class RetryableDeliveryError(Exception):
    """A failure worth retrying, optionally no sooner than `retry_after` seconds (Retry-After)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
