"""A stand-in websocket connection that records what the hub hands it."""

from __future__ import annotations

import json
from typing import Any


class RecordingConnection:
    """Implements the hub's Connection protocol by remembering events and close requests."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.closed_with: tuple[int, str] | None = None

    def deliver(self, message: str) -> None:
        """Record the decoded event."""
        self.events.append(json.loads(message))

    def close_soon(self, code: int, reason: str) -> None:
        """Record the close request."""
        self.closed_with = (code, reason)
