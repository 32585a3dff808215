"""The periodic work of the service: one schedule table, one lock rule, one entry point.

    python -m app.worker             # every job on its schedule, until SIGTERM/SIGINT
    python -m app.worker --once      # each job once (a cron-style run), then exit

The demo runs the same schedule inside the web process (BACKGROUND_JOBS_ENABLED); production
turns that off and runs this module as its own process (any number of them). Lock rule: a job
runs only while it holds its lock - PostgreSQL's session advisory lock `lock_key`, taken and
released on one connection kept for the run (behind a transaction pooler, a connection to
DATABASE_DIRECT_URL: the pooler would hand the unlock to another session), so two processes
never run the same job at once;
on SQLite (one process) a lock in memory, so a slow run is never overlapped by the next tick.
A tick that finds the lock taken is skipped; a failed run is logged and tried again at the next
tick.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from app import wiring
from app.alert import jobs as alert_jobs
from app.analytics import jobs as analytics_jobs
from app.assignment import jobs as assignment_jobs
from app.auth import jobs as auth_jobs
from app.chat import jobs as chat_jobs
from app.config import Settings, get_settings
from app.db import create_engine, create_lock_engine, create_sessionmaker
from app.idempotency import keys as idempotency_keys
from app.kit import sql
from app.kit.blobstore import BlobStore, create_blob_store
from app.kit.signals import until_signalled
from app.notify import jobs as notify_jobs
from app.observability import configure_logging
from app.payment import jobs as payment_jobs
from app.prescription import jobs as prescription_jobs
from app.reading import jobs as reading_jobs
from app.realtime.hub import RealtimeHub, create_hub

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What the jobs run with: the database, the settings, the hub, blobs and an HTTP client."""

    engine: AsyncEngine  # where the job locks are taken (see app.db.create_lock_engine)
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    hub: RealtimeHub
    blobs: BlobStore
    http: httpx.AsyncClient


@dataclass(frozen=True)
class Job:
    """One periodic job: its name, its period (from the settings) and one run of it."""

    name: str
    every: Callable[[Settings], float]
    run: Callable[[JobContext], Awaitable[Any]]
    lock_key: int = field(init=False)

    def __post_init__(self) -> None:
        # A stable 31-bit key per job name (pg advisory locks take a bigint).
        object.__setattr__(self, "lock_key", zlib.crc32(f"job:{self.name}".encode()) & 0x7FFFFFFF)


# Every periodic job of the service. Each is safe to run from several processes (rows are
# claimed with SKIP LOCKED, writes are idempotent); the lock keeps one run of each at a time.
SCHEDULE: tuple[Job, ...] = (
    Job(
        "signal-loss",
        lambda s: 60.0,
        lambda c: alert_jobs.sweep_signal_loss(c.sessionmaker, c.settings, c.hub),
    ),
    # Uploads make rollups stale all the time: refreshed more often than the other jobs run.
    Job(
        "cgm-rollups",
        lambda s: s.cgm_rollup_interval_seconds,
        lambda c: analytics_jobs.refresh_stale_rollups(c.sessionmaker, c.settings),
    ),
    Job(
        "reading-partitions",
        lambda s: 3600.0,
        lambda c: reading_jobs.ensure_partitions(c.sessionmaker),
    ),
    Job(
        "reading-retention",
        lambda s: 86400.0,
        lambda c: reading_jobs.archive_expired_partitions(c.sessionmaker, c.settings),
    ),
    Job(
        "assignment",
        lambda s: 30.0,
        lambda c: assignment_jobs.run_once(c.sessionmaker, c.settings, c.hub),
    ),
    Job(
        "chat-attachment-expiry",
        lambda s: s.chat_attachment_expiry_interval_seconds,
        lambda c: chat_jobs.expire_unsent_attachments(c.sessionmaker, c.blobs, c.settings),
    ),
    Job(
        "sign-in-housekeeping",
        lambda s: auth_jobs.PURGE_INTERVAL_SECONDS,
        lambda c: auth_jobs.run_once(c.sessionmaker, c.settings),
    ),
    Job(
        "idempotency-keys",
        lambda s: 3600.0,
        lambda c: idempotency_keys.forget_expired(c.sessionmaker, c.settings),
    ),
    Job(
        "prescription-expiry",
        lambda s: 900.0,
        lambda c: prescription_jobs.run_once(c.sessionmaker, c.settings),
    ),
    Job(
        "money",
        lambda s: s.payment_jobs_interval_seconds,
        lambda c: payment_jobs.run_once(c.sessionmaker, c.settings, c.http),
    ),
    Job(
        "sms-reports",
        lambda s: 300.0,
        lambda c: notify_jobs.run_once(c.sessionmaker, c.settings, c.http),
    ),
)

_local_locks: dict[int, asyncio.Lock] = {}


@contextlib.asynccontextmanager
async def job_lock(engine: AsyncEngine, key: int) -> AsyncIterator[bool]:
    """Hold the job's lock for the block if it is free (True), else yield False at once.

    On PostgreSQL the lock is a session advisory lock on one connection kept for the whole run,
    in autocommit mode (no transaction stays open while the job works with connections of its
    own) and released on that same connection. Should the release fail (the job cancelled
    mid-release, the connection broken), the connection is discarded, not pooled: closing the
    session is what frees the lock then, so no pooled connection ever keeps a job locked.
    """
    if engine.dialect.name != "postgresql":
        lock = _local_locks.setdefault(key, asyncio.Lock())
        if lock.locked():
            yield False
            return
        async with lock:
            yield True
        return
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        if not await sql.try_session_lock(connection, key):
            yield False
            return
        try:
            yield True
        finally:
            released = False
            try:
                released = await sql.session_unlock(connection, key)
            finally:
                if not released:
                    await connection.invalidate()


async def run_job(job: Job, ctx: JobContext) -> bool:
    """One run of `job` under its lock; False when another run holds it."""
    async with job_lock(ctx.engine, job.lock_key) as held:
        if not held:
            log.info("job skipped: already running", job=job.name)
            return False
        result = await job.run(ctx)
        log.info("job ran", job=job.name, result=repr(result))
        return True


async def _every(job: Job, ctx: JobContext) -> None:
    while True:
        try:
            await run_job(job, ctx)
        except Exception:
            log.exception("job failed", job=job.name)
        await asyncio.sleep(job.every(ctx.settings))


async def run_schedule(ctx: JobContext, schedule: Sequence[Job] = SCHEDULE) -> None:
    """Run every job of `schedule` on its period until cancelled."""
    async with asyncio.TaskGroup() as jobs:
        for job in schedule:
            jobs.create_task(_every(job, ctx), name=f"job:{job.name}")


@contextlib.asynccontextmanager
async def standalone_context(settings: Settings) -> AsyncIterator[JobContext]:
    """A worker process's own engine, hub (Redis with REDIS_URL: pushes reach every web
    process), blob store and HTTP client, released at the end. The job locks hold connections
    of a pool of their own (on DATABASE_DIRECT_URL behind a transaction pooler)."""
    engine = create_engine(settings)
    locks = create_lock_engine(settings, engine, len(SCHEDULE))
    hub = create_hub(settings)
    await hub.start()
    try:
        async with httpx.AsyncClient(timeout=settings.outbox_http_timeout_seconds) as http:
            yield JobContext(
                locks,
                create_sessionmaker(engine),
                settings,
                hub,
                create_blob_store(settings),
                http,
            )
    finally:
        await hub.stop()
        if locks is not engine:
            await locks.dispose()
        await engine.dispose()


async def _run(settings: Settings, once: bool) -> None:
    async with standalone_context(settings) as ctx:
        if once:
            for job in SCHEDULE:
                await run_job(job, ctx)
            return
        await run_schedule(ctx)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the worker process."""
    parser = argparse.ArgumentParser(prog="python -m app.worker", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run each job once, then exit")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    wiring.wire()
    asyncio.run(until_signalled(_run(settings, args.once)))


if __name__ == "__main__":
    main()
