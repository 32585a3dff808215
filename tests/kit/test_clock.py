"""Tests move the service's clock without sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.kit import clock
from app.kit.clock import frozen_at, shifted_by, to_shanghai, utcnow


def test_utcnow_is_aware_utc() -> None:
    assert utcnow().tzinfo is UTC


def test_frozen_clock_is_seen_by_importers_of_utcnow() -> None:
    moment = datetime(2026, 5, 28, 1, 0, tzinfo=UTC)
    with frozen_at(moment):
        assert utcnow() == moment
        assert clock.utcnow() == moment
    assert utcnow() != moment


def test_shifted_clock_runs_ahead() -> None:
    with shifted_by(timedelta(minutes=3)):
        assert utcnow() - datetime.now(UTC) >= timedelta(minutes=2, seconds=59)


def test_naive_freeze_is_refused() -> None:
    with pytest.raises(ValueError), frozen_at(datetime(2026, 1, 1)):
        pass


def test_shanghai_is_eight_hours_ahead() -> None:
    assert to_shanghai(datetime(2026, 1, 1, 16, 0, tzinfo=UTC)).hour == 0
