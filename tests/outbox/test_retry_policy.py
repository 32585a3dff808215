"""When failed messages are tried again (tenacity wait and stop strategies)."""

from __future__ import annotations

import pytest

from app.outbox.relay import RetryPolicy


@pytest.mark.parametrize(("attempts", "low", "high"), [(1, 1, 2), (2, 2, 4), (5, 16, 32)])
def test_delay_doubles_with_half_of_it_random(attempts: int, low: float, high: float) -> None:
    delays = [RetryPolicy(max_attempts=20).delay_after(attempts) for _ in range(200)]
    assert all(delay is not None and low <= delay <= high for delay in delays)
    assert len(set(delays)) > 1


def test_delay_is_capped_at_ten_minutes() -> None:
    delays = [RetryPolicy(max_attempts=50).delay_after(40) for _ in range(200)]
    assert all(delay is not None and 300 <= delay <= 600 for delay in delays)


def test_policy_gives_up_at_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.delay_after(2) is not None
    assert policy.delay_after(3) is None
