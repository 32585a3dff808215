"""One relay pass: claiming due messages, delivering them and recording each outcome."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.outbox import repository as outbox_repository
from app.outbox.types import ClaimedMessage, PermanentDeliveryError, RetryableDeliveryError
from tests.outbox.conftest import (
    MovableClock,
    RecordingHandler,
    RelayFactory,
    enqueue_committed,
    load,
)

KIND = "test.effect"


async def claim_as(
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_id: str,
    clock: MovableClock,
    lease_seconds: float = 60,
) -> list[ClaimedMessage]:
    """Claim what is due as a relay that then dies without recording anything."""
    now = clock()
    async with sessionmaker() as session, session.begin():
        return await outbox_repository.claim_due(
            session, relay_id, now, now + timedelta(seconds=lease_seconds), 50
        )


async def test_run_once_delivers_due_messages_and_marks_them_sent(
    make_relay: RelayFactory, sessionmaker: async_sessionmaker, db_session: AsyncSession
) -> None:
    handler = RecordingHandler()
    relay = make_relay({KIND: handler})
    await enqueue_committed(sessionmaker, KIND, {"n": 1}, "relay-sent-1")
    await enqueue_committed(sessionmaker, KIND, {"n": 2}, "relay-sent-2")

    assert await relay.run_once() == 2

    assert sorted(handler.keys) == ["relay-sent-1", "relay-sent-2"]
    assert {m.idempotency_key: m.payload for m in handler.messages}["relay-sent-2"] == {"n": 2}
    for key in ("relay-sent-1", "relay-sent-2"):
        row = await load(db_session, key)
        assert (row.status, row.attempts, row.locked_until) == ("sent", 1, None)
        assert row.sent_at is not None


async def test_sent_message_is_not_delivered_again(
    make_relay: RelayFactory, sessionmaker: async_sessionmaker, clock: MovableClock
) -> None:
    handler = RecordingHandler()
    relay = make_relay({KIND: handler})
    await enqueue_committed(sessionmaker, KIND, {}, "relay-sent-once")
    await relay.run_once()
    clock.advance(3600)
    await relay.run_once()
    assert handler.keys == ["relay-sent-once"]


async def test_message_not_yet_due_is_left_alone(
    make_relay: RelayFactory, sessionmaker: async_sessionmaker, clock: MovableClock
) -> None:
    handler = RecordingHandler()
    relay = make_relay({KIND: handler})
    await enqueue_committed(
        sessionmaker, KIND, {}, "relay-later", available_at=clock() + timedelta(minutes=5)
    )
    await relay.run_once()
    assert handler.keys == []
    clock.advance(301)
    await relay.run_once()
    assert handler.keys == ["relay-later"]


async def test_retryable_failure_is_retried_later_with_growing_delay(
    make_relay: RelayFactory,
    sessionmaker: async_sessionmaker,
    db_session: AsyncSession,
    clock: MovableClock,
) -> None:
    handler = RecordingHandler(RuntimeError("partner down"))
    relay = make_relay({KIND: handler})
    await enqueue_committed(sessionmaker, KIND, {}, "relay-retry")

    started = clock()
    await relay.run_once()
    first = await load(db_session, "relay-retry")
    first_delay = (first.next_attempt_at - started).total_seconds()
    assert (first.status, first.attempts, first.locked_until) == ("pending", 1, None)
    assert first.last_error == "RuntimeError: partner down"
    assert 1.0 <= first_delay <= 2.5

    await relay.run_once()  # not due yet
    assert len(handler.messages) == 1

    clock.advance(first_delay)
    started = clock()
    await relay.run_once()
    second = await load(db_session, "relay-retry")
    second_delay = (second.next_attempt_at - started).total_seconds()
    assert (second.status, second.attempts) == ("pending", 2)
    assert 2.0 <= second_delay <= 4.5
    assert second_delay >= first_delay
    assert [m.attempts for m in handler.messages] == [1, 2]


async def test_receivers_retry_after_postpones_the_retry(
    make_relay: RelayFactory,
    sessionmaker: async_sessionmaker,
    db_session: AsyncSession,
    clock: MovableClock,
) -> None:
    relay = make_relay({KIND: RecordingHandler(RetryableDeliveryError("429", retry_after=120))})
    await enqueue_committed(sessionmaker, KIND, {}, "relay-retry-after")
    started = clock()
    await relay.run_once()
    row = await load(db_session, "relay-retry-after")
    assert 120 <= (row.next_attempt_at - started).total_seconds() <= 121


async def test_permanent_failure_marks_the_message_dead_at_once(
    make_relay: RelayFactory,
    sessionmaker: async_sessionmaker,
    db_session: AsyncSession,
    clock: MovableClock,
) -> None:
    handler = RecordingHandler(PermanentDeliveryError("HTTP 400 from partner: bad order"))
    relay = make_relay({KIND: handler})
    await enqueue_committed(sessionmaker, KIND, {}, "relay-permanent")
    await relay.run_once()
    row = await load(db_session, "relay-permanent")
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "PermanentDeliveryError: HTTP 400 from partner: bad order"
    clock.advance(3600)
    await relay.run_once()
    assert len(handler.messages) == 1


async def test_message_dies_after_max_attempts(
    make_relay: RelayFactory,
    sessionmaker: async_sessionmaker,
    db_session: AsyncSession,
    clock: MovableClock,
) -> None:
    handler = RecordingHandler(RuntimeError("partner down"))
    relay = make_relay({KIND: handler}, outbox_max_attempts=3)
    await enqueue_committed(sessionmaker, KIND, {}, "relay-max-attempts")
    for _ in range(4):
        await relay.run_once()
        clock.advance(3600)
    row = await load(db_session, "relay-max-attempts")
    assert (row.status, row.attempts) == ("dead", 3)
    assert row.last_error == "gave up after 3 attempts: RuntimeError: partner down"
    assert len(handler.messages) == 3


async def test_unknown_kind_is_marked_dead(
    make_relay: RelayFactory, sessionmaker: async_sessionmaker, db_session: AsyncSession
) -> None:
    relay = make_relay({KIND: RecordingHandler()})
    await enqueue_committed(sessionmaker, "no.such.kind", {}, "relay-unknown-kind")
    await relay.run_once()
    row = await load(db_session, "relay-unknown-kind")
    assert row.status == "dead"
    assert row.last_error == "no handler for outbox kind 'no.such.kind'"


async def test_message_under_a_live_lease_is_not_claimed(
    make_relay: RelayFactory, sessionmaker: async_sessionmaker, clock: MovableClock
) -> None:
    handler = RecordingHandler()
    await enqueue_committed(sessionmaker, KIND, {}, "relay-live-lease")
    await claim_as(sessionmaker, "busy-relay", clock, lease_seconds=60)
    clock.advance(59)
    await make_relay({KIND: handler}).run_once()
    assert handler.keys == []


async def test_message_whose_lease_expired_is_claimed_again(
    make_relay: RelayFactory,
    sessionmaker: async_sessionmaker,
    db_session: AsyncSession,
    clock: MovableClock,
) -> None:
    handler = RecordingHandler()
    await enqueue_committed(sessionmaker, KIND, {}, "relay-expired-lease")
    claimed = await claim_as(sessionmaker, "crashed-relay", clock, lease_seconds=60)
    assert "relay-expired-lease" in [m.idempotency_key for m in claimed]

    clock.advance(61)
    relay = make_relay({KIND: handler}, relay_id="successor")
    await relay.run_once()

    assert handler.keys == ["relay-expired-lease"]
    row = await load(db_session, "relay-expired-lease")
    assert (row.status, row.attempts, row.locked_by) == ("sent", 2, "successor")


async def test_outcome_of_a_relay_that_lost_its_lease_is_dropped(
    sessionmaker: async_sessionmaker, db_session: AsyncSession, clock: MovableClock
) -> None:
    await enqueue_committed(sessionmaker, KIND, {}, "relay-lost-lease")
    [message] = [
        m
        for m in await claim_as(sessionmaker, "slow-relay", clock, lease_seconds=1)
        if m.idempotency_key == "relay-lost-lease"
    ]
    clock.advance(2)
    await claim_as(sessionmaker, "successor", clock)

    async with sessionmaker() as session, session.begin():
        recorded = await outbox_repository.mark_sent(session, message.id, "slow-relay", clock())

    assert recorded is False
    row = await load(db_session, "relay-lost-lease")
    assert (row.status, row.locked_by) == ("pending", "successor")


async def test_delivery_outlasting_the_lease_is_abandoned_and_retried(
    make_relay: RelayFactory, sessionmaker: async_sessionmaker, db_session: AsyncSession
) -> None:
    async def hangs(message: ClaimedMessage) -> None:
        await asyncio.sleep(30)

    relay = make_relay({KIND: hangs}, outbox_lease_seconds=0.2)
    await enqueue_committed(sessionmaker, KIND, {}, "relay-hangs")
    await asyncio.wait_for(relay.run_once(), timeout=5)
    row = await load(db_session, "relay-hangs")
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None and "lease" in row.last_error


async def test_message_whose_deliveries_never_report_back_is_given_up(
    make_relay: RelayFactory,
    sessionmaker: async_sessionmaker,
    db_session: AsyncSession,
    clock: MovableClock,
) -> None:
    handler = RecordingHandler()
    await enqueue_committed(sessionmaker, KIND, {}, "relay-poison")
    for crashed in ("crashed-1", "crashed-2"):
        await claim_as(sessionmaker, crashed, clock, lease_seconds=60)
        clock.advance(61)

    await make_relay({KIND: handler}, outbox_max_attempts=2).run_once()

    assert handler.keys == []
    row = await load(db_session, "relay-poison")
    assert row.status == "dead"
    assert row.last_error is not None and row.last_error.startswith("gave up: 2 attempts")
