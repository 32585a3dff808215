"""The outbox relay: claims due messages under a lease, delivers them, records each outcome."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
    wait_exponential,
    wait_exponential_jitter,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from app.config import Settings
from app.kit.clock import utcnow
from app.metrics.counters import count_outbox_delivery
from app.outbox import repository as outbox_repository
from app.outbox.types import (
    ClaimedMessage,
    Handler,
    PermanentDeliveryError,
    RetryableDeliveryError,
)

log = structlog.get_logger(__name__)

DEFAULT_CONCURRENCY = 10
# A delivery may use this share of the lease; the rest is left for recording its outcome, so
# no other relay can take the message over while this one still expects to finish it.
DELIVERY_SHARE_OF_LEASE = 0.8
# A receiver's Retry-After is honoured up to this long.
MAX_RETRY_AFTER_SECONDS = 3600.0
# Ceiling of the pause between relay passes while the database keeps failing.
MAX_ERROR_PAUSE_SECONDS = 30.0


def default_retry_wait(max_seconds: float = 600.0) -> wait_base:
    """Delays of 1-2 s, 2-4 s, 4-8 s ... up to 5-10 min: half fixed, half random."""
    # "Equal jitter": the random half grows with the delay, so messages that failed together
    # (a partner outage) spread out instead of retrying in step, while each retry still waits
    # at least as long as the previous one could have.
    half = max_seconds / 2
    return wait_exponential(multiplier=1, max=half) + wait_random_exponential(
        multiplier=1, max=half
    )


class RetryPolicy:
    """When a failed message is tried again, and when it is given up (tenacity strategies)."""

    def __init__(self, max_attempts: int, wait: wait_base | None = None) -> None:
        self._retrying = AsyncRetrying(
            stop=stop_after_attempt(max_attempts), wait=wait or default_retry_wait()
        )

    def delay_after(self, attempts: int) -> float | None:
        """Seconds to wait after `attempts` failed attempts, or None when it is time to give up."""
        state = RetryCallState(self._retrying, fn=None, args=(), kwargs={})
        state.attempt_number = attempts
        if self._retrying.stop(state):
            return None
        return float(self._retrying.wait(state))


def default_relay_id() -> str:
    """host:pid:random - unique per process, readable in locked_by when debugging."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class OutboxRelay:
    """Delivers committed outbox messages at least once, with retries and backoff.

    Several relays (web processes, `python -m app.outbox` workers) may run against one database:
    a claimed message is leased to one relay for settings.outbox_lease_seconds; if that relay
    dies, the lease runs out and another relay delivers the message again - receivers dedupe
    on the Idempotency-Key.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, Handler],
        settings: Settings,
        relay_id: str | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        self.relay_id = relay_id or default_relay_id()
        self._sessionmaker = sessionmaker
        self._handlers = dict(handlers)
        self._clock = clock
        self._batch_size = settings.outbox_batch_size
        self._lease_seconds = settings.outbox_lease_seconds
        self._poll_seconds = settings.outbox_poll_seconds
        self._max_attempts = settings.outbox_max_attempts
        self._retry_policy = retry_policy or RetryPolicy(settings.outbox_max_attempts)
        self._error_wait = wait_exponential_jitter(
            multiplier=max(self._poll_seconds, 0.1),
            max=MAX_ERROR_PAUSE_SECONDS,
            jitter=max(self._poll_seconds, 0.1),
        )
        self._concurrency = concurrency
        # The relay writes through one connection at a time: in the web process it must not
        # crowd requests out of the pool, and SQLite has a single writer anyway.
        self._db_lock = asyncio.Lock()
        self._log = log.bind(relay_id=self.relay_id)

    async def run_forever(self) -> None:
        """Relay until cancelled; database errors are logged and the pass retried with backoff."""
        self._log.info(
            "outbox relay started",
            batch_size=self._batch_size,
            poll_seconds=self._poll_seconds,
            lease_seconds=self._lease_seconds,
        )
        failures = 0
        try:
            while True:
                try:
                    processed = await self.run_once()
                except Exception:
                    failures += 1
                    pause = self._pause_after_error(failures)
                    self._log.exception(
                        "outbox relay pass failed",
                        consecutive_failures=failures,
                        retry_in_s=round(pause, 2),
                    )
                    await asyncio.sleep(pause)
                    continue
                failures = 0
                # A full batch suggests a backlog: go straight on to the next one.
                if processed < self._batch_size:
                    await asyncio.sleep(self._poll_seconds)
        finally:
            self._log.info("outbox relay stopped")

    async def run_once(self) -> int:
        """Claim one batch of due messages, deliver them and record the outcomes; how many."""
        now = self._clock()
        lease_until = now + timedelta(seconds=self._lease_seconds)
        async with self._db_lock, self._sessionmaker() as session, session.begin():
            messages = await outbox_repository.claim_due(
                session, self.relay_id, now, lease_until, self._batch_size
            )
        if not messages:
            return 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._lease_seconds * DELIVERY_SHARE_OF_LEASE
        slots = asyncio.Semaphore(self._concurrency)
        async with asyncio.TaskGroup() as group:
            for message in messages:
                group.create_task(self._deliver(message, deadline, slots))
        return len(messages)

    async def _deliver(
        self, message: ClaimedMessage, deadline: float, slots: asyncio.Semaphore
    ) -> None:
        bound = self._log.bind(
            message_id=message.id,
            kind=message.kind,
            attempt=message.attempts,
            idempotency_key=message.idempotency_key,
        )
        handler = self._handlers.get(message.kind)
        if handler is None:
            await self._give_up(message, bound, f"no handler for outbox kind {message.kind!r}")
            return
        if message.attempts > self._max_attempts:
            # Claiming counts the attempt, so a message whose deliveries keep killing or
            # hanging the relay (never reporting back) still ends instead of looping forever.
            await self._give_up(
                message,
                bound,
                f"gave up: {self._max_attempts} attempts never reported an outcome "
                "(relay crashed or lease expired mid-delivery)",
            )
            return
        started = asyncio.get_running_loop().time()
        timeout = asyncio.timeout_at(deadline)
        try:
            async with timeout, slots:
                await handler(message)
        except PermanentDeliveryError as exc:
            await self._give_up(message, bound, _describe(exc))
        except Exception as exc:
            lease_ran_out = isinstance(exc, TimeoutError) and timeout.expired()
            error = (
                f"delivery did not finish within {DELIVERY_SHARE_OF_LEASE:.0%} of its lease"
                if lease_ran_out
                else _describe(exc)
            )
            retry_after = exc.retry_after if isinstance(exc, RetryableDeliveryError) else None
            await self._retry_later(message, bound, error, retry_after)
        else:
            elapsed_ms = round((asyncio.get_running_loop().time() - started) * 1000, 1)
            now = self._clock()
            if await self._record(
                bound,
                lambda session: outbox_repository.mark_sent(
                    session, message.id, self.relay_id, now
                ),
            ):
                bound.info("outbox message sent", duration_ms=elapsed_ms)
                count_outbox_delivery(message.kind, "sent")

    async def _retry_later(
        self,
        message: ClaimedMessage,
        bound: structlog.typing.FilteringBoundLogger,
        error: str,
        retry_after: float | None,
    ) -> None:
        delay = self._retry_policy.delay_after(message.attempts)
        if delay is None:
            error = f"gave up after {message.attempts} attempts: {error}"
            await self._give_up(message, bound, error)
            return
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        retry_at = self._clock() + timedelta(seconds=delay)
        if await self._record(
            bound,
            lambda session: outbox_repository.schedule_retry(
                session, message.id, self.relay_id, retry_at, error
            ),
        ):
            bound.warning("outbox delivery failed", error=error, retry_in_s=round(delay, 2))
            count_outbox_delivery(message.kind, "retry")

    async def _give_up(
        self, message: ClaimedMessage, bound: structlog.typing.FilteringBoundLogger, error: str
    ) -> None:
        if await self._record(
            bound,
            lambda session: outbox_repository.mark_dead(session, message.id, self.relay_id, error),
        ):
            bound.error("outbox message dead", error=error)
            count_outbox_delivery(message.kind, "dead")

    async def _record(
        self,
        bound: structlog.typing.FilteringBoundLogger,
        write: Callable[[AsyncSession], Awaitable[bool]],
    ) -> bool:
        """Write one outcome in its own transaction; False if it could not be recorded."""
        try:
            async with self._db_lock, self._sessionmaker() as session, session.begin():
                held = await write(session)
        except Exception:
            # The lease runs out and the message is delivered again: at least once, never lost.
            bound.exception("outbox outcome not recorded; message will be redelivered")
            return False
        if not held:
            bound.warning("outbox lease lost before the outcome was recorded; outcome dropped")
        return held

    def _pause_after_error(self, failures: int) -> float:
        state = RetryCallState(AsyncRetrying(), fn=None, args=(), kwargs={})
        state.attempt_number = failures
        return float(self._error_wait(state))
