"""What provider adapters raise."""

from __future__ import annotations


class ProviderError(Exception):
    """A provider call failed; `retryable` tells transient failures from refusals."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class NotificationRejected(Exception):
    """A notification that fails verification or does not match our records."""
