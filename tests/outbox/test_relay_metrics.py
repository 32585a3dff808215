"""Each recorded delivery outcome is counted (outbox_deliveries_total{kind,outcome})."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker

from app.outbox.types import PermanentDeliveryError
from tests.fixtures.metrics import counted
from tests.outbox.conftest import MovableClock, RecordingHandler, RelayFactory, enqueue_committed

KIND = "test.metrics"


def _deliveries(outcome: str) -> float:
    return counted("outbox_deliveries_total", kind=KIND, outcome=outcome)


async def test_sent_retried_and_dead_deliveries_are_counted_by_outcome(
    make_relay: RelayFactory, sessionmaker: async_sessionmaker, clock: MovableClock
) -> None:
    before = {outcome: _deliveries(outcome) for outcome in ("sent", "retry", "dead")}

    await enqueue_committed(sessionmaker, KIND, {}, "metrics-sent")
    # Each pass delivers this test's message (and, on PostgreSQL, whatever other tests left due
    # in the run's database): the counters of this kind say what happened to it.
    await make_relay({KIND: RecordingHandler()}).run_once()
    assert _deliveries("sent") == before["sent"] + 1

    await enqueue_committed(sessionmaker, KIND, {}, "metrics-retry")
    await make_relay({KIND: RecordingHandler(RuntimeError("partner down"))}).run_once()
    assert _deliveries("retry") == before["retry"] + 1
    assert _deliveries("dead") == before["dead"]

    clock.advance(3600)  # the retried message is due again; this time it is refused for good
    refused = RecordingHandler(PermanentDeliveryError("HTTP 400 from partner"))
    await make_relay({KIND: refused}).run_once()
    assert _deliveries("dead") == before["dead"] + 1
    assert _deliveries("sent") == before["sent"] + 1
