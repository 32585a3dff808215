"""A record below the configured level is dropped before structlog processes it: every request
writes an access line (app/observability.py), which where LOG_LEVEL is above INFO cost CPU on
each request (context merge, time stamp, hand-over to the standard library) for nothing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from app.observability import configure_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back what configure_logging replaces."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def _handed_over(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """What structlog hands to the standard library's `Logger.info`."""
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(logging.Logger, "info", lambda _self, *args, **_kw: calls.append(args))
    return calls


@pytest.mark.usefixtures("restore_logging")
def test_records_below_the_level_are_dropped_before_processing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_logging("WARNING", json_logs=True)
    handed_over = _handed_over(monkeypatch)
    structlog.get_logger("app.access").info("request", route="/api/v1/readings")
    assert handed_over == []


@pytest.mark.usefixtures("restore_logging")
def test_records_at_the_level_are_processed(monkeypatch: pytest.MonkeyPatch) -> None:
    configure_logging("INFO", json_logs=True)
    handed_over = _handed_over(monkeypatch)
    structlog.get_logger("app.access").info("request", route="/api/v1/readings")
    [(event,)] = handed_over
    assert event["event"] == "request" and event["route"] == "/api/v1/readings"
    assert event["level"] == "info" and "timestamp" in event
