"""The requirement's proof: a relay killed mid-delivery resumes on restart, nothing lost or doubled.

Real processes (`python -m app.outbox`), a real database and a real idempotent HTTP receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import create_sessionmaker
from app.models import OutboxMessage
from app.outbox import service as outbox_service
from app.outbox.handlers import HTTP_POST
from tests.outbox.conftest import load, wait_until
from tests.outbox.receiver import IdempotentReceiver

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class RelayProcess:
    """`python -m app.outbox` as a child process; its log lines are kept for failure messages."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = asyncio.create_task(self._read_output())

    @classmethod
    async def start(cls, database_url: str, **settings: str) -> RelayProcess:
        env = {
            **os.environ,
            "APP_ENV": "test",
            "DATABASE_URL": database_url,
            "LOG_JSON": "true",
            **{name.upper(): value for name, value in settings.items()},
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.outbox",
            cwd=PROJECT_ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(process)

    async def _read_output(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            self.lines.append(line.decode(errors="replace").rstrip())

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.lines[-lines:])

    async def stop(self, signum: signal.Signals) -> int:
        """Send `signum` and wait for the exit status."""
        if self.process.returncode is None:
            self.process.send_signal(signum)
        returncode = await asyncio.wait_for(self.process.wait(), timeout=15)
        await asyncio.wait_for(self._reader, timeout=5)
        return returncode


@pytest.fixture
def receiver() -> Iterator[IdempotentReceiver]:
    with IdempotentReceiver().running() as running:
        yield running


async def statuses(sessionmaker: async_sessionmaker[AsyncSession], keys: Sequence[str]) -> set[str]:
    async with sessionmaker() as session:
        statement = select(OutboxMessage.status).where(OutboxMessage.idempotency_key.in_(keys))
        return set((await session.scalars(statement)).all())


async def all_sent(sessionmaker: async_sessionmaker[AsyncSession], keys: Sequence[str]) -> bool:
    return await statuses(sessionmaker, keys) == {"sent"}


async def test_relay_killed_mid_delivery_resumes_on_restart_without_a_second_effect(
    fresh_database_url: str, fresh_engine: AsyncEngine, receiver: IdempotentReceiver
) -> None:
    sessionmaker = create_sessionmaker(fresh_engine)
    keys = [f"order-{n}-paid" for n in range(7)]
    async with sessionmaker() as session, session.begin():
        for n, key in enumerate(keys):
            payload = {"url": receiver.url, "json": {"order": n}}
            await outbox_service.enqueue(session, HTTP_POST, payload, key)
    in_flight, sent_before_crash, never_claimed = keys[0], keys[1:3], keys[3:]
    receiver.hang_first_delivery_of(in_flight)

    # Batches of 3: the first batch holds the hanging delivery, so the relay is stuck on it.
    # The lease must outlive the time it takes to notice the hang and kill the relay.
    first = await RelayProcess.start(
        fresh_database_url,
        outbox_batch_size="3",
        outbox_poll_seconds="0.05",
        outbox_lease_seconds="3",
    )
    try:
        await wait_until(
            lambda: in_flight in receiver.snapshot()[2], "the in-flight delivery to hang"
        )
        await wait_until(
            lambda: all_sent(sessionmaker, sent_before_crash),
            "the rest of the first batch to be recorded as sent",
        )
        assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
    finally:
        with contextlib.suppress(ProcessLookupError):
            first.process.kill()
    async with sessionmaker() as session:
        killed = await load(session, in_flight)
        assert (killed.status, killed.attempts) == ("pending", 1), first.log_tail()
    assert await statuses(sessionmaker, never_claimed) == {"pending"}

    second = await RelayProcess.start(
        fresh_database_url, outbox_poll_seconds="0.1", outbox_lease_seconds="10"
    )
    try:
        await wait_until(
            lambda: all_sent(sessionmaker, keys),
            "every message to be sent after the restart",
        )
        assert await second.stop(signal.SIGTERM) == 0, second.log_tail()
    finally:
        with contextlib.suppress(ProcessLookupError):
            second.process.kill()

    deliveries, applied, _ = receiver.snapshot()
    assert applied == Counter({str(n): 1 for n in range(len(keys))})
    assert deliveries[in_flight] >= 2
    assert {key: deliveries[key] for key in keys[1:]} == {key: 1 for key in keys[1:]}
    async with sessionmaker() as session:
        redelivered = await load(session, in_flight)
    assert (redelivered.status, redelivered.attempts) == ("sent", 2)
