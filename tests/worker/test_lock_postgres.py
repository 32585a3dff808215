"""The job lock on PostgreSQL: two worker processes (two engines) never run one job at once,
and the lock is free again however a run ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app import worker
from app.config import Settings
from app.db import create_engine

pytestmark = pytest.mark.postgres

_HOLDERS = (
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND classid = 0 AND objid = :key AND database = (SELECT oid FROM pg_database"
    " WHERE datname = current_database())"
)


@pytest.fixture
async def other_process(
    settings: Settings, job_context: worker.JobContext
) -> AsyncIterator[worker.JobContext]:
    """A second worker process: an engine (and connections) of its own."""
    engine = create_engine(settings)
    try:
        yield replace(job_context, engine=engine, sessionmaker=worker.create_sessionmaker(engine))
    finally:
        await engine.dispose()


async def _holders(engine: AsyncEngine, key: int) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text(_HOLDERS), {"key": key}) or 0)


def _blocking_job(name: str) -> tuple[worker.Job, asyncio.Event, asyncio.Event, list[str]]:
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def run(ctx: worker.JobContext) -> None:
        runs.append(name)
        started.set()
        await release.wait()

    return worker.Job(name, lambda s: 1.0, run), started, release, runs


async def test_two_processes_one_runs_the_job_the_other_skips_then_the_lock_is_free(
    job_context, other_process
) -> None:
    job, started, release, runs = _blocking_job("pg-lock-test-job")
    first = asyncio.create_task(worker.run_job(job, job_context))
    await started.wait()
    assert await _holders(other_process.engine, job.lock_key) == 1
    assert await worker.run_job(job, other_process) is False
    release.set()
    assert await first is True
    assert await _holders(other_process.engine, job.lock_key) == 0
    assert await worker.run_job(job, other_process) is True
    assert runs == ["pg-lock-test-job", "pg-lock-test-job"]


async def test_no_transaction_stays_open_on_the_lock_connection_while_the_job_runs(
    job_context, other_process
) -> None:
    job, started, release, _ = _blocking_job("pg-idle-test-job")
    first = asyncio.create_task(worker.run_job(job, job_context))
    await started.wait()
    async with other_process.engine.connect() as connection:
        states = list(
            await connection.scalars(
                text(
                    "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                    " WHERE l.locktype = 'advisory' AND l.objid = :key"
                ),
                {"key": job.lock_key},
            )
        )
    release.set()
    await first
    assert states == ["idle"]


async def test_a_failed_run_frees_the_lock(job_context, other_process) -> None:
    async def fails(_ctx: worker.JobContext) -> None:
        raise RuntimeError("the job broke")

    job = worker.Job("pg-failing-test-job", lambda s: 1.0, fails)
    with pytest.raises(RuntimeError):
        await worker.run_job(job, job_context)
    assert await _holders(other_process.engine, job.lock_key) == 0


async def test_a_cancelled_run_frees_the_lock(job_context, other_process) -> None:
    job, started, _, _ = _blocking_job("pg-cancelled-test-job")
    first = asyncio.create_task(worker.run_job(job, job_context))
    await started.wait()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await _holders(other_process.engine, job.lock_key) == 0
    assert await worker.run_job(worker.Job(job.name, job.every, _noop), other_process) is True


async def test_a_failed_release_discards_the_connection_so_no_pooled_one_keeps_the_lock(
    job_context, other_process, monkeypatch
) -> None:
    async def release_fails(connection, key) -> bool:
        raise ConnectionError("connection lost while releasing")

    monkeypatch.setattr(worker.sql, "session_unlock", release_fails)
    job = worker.Job("pg-release-test-job", lambda s: 1.0, _noop)
    with pytest.raises(ConnectionError):
        await worker.run_job(job, job_context)
    monkeypatch.undo()
    for _ in range(50):  # the server notices the closed session at once, but asynchronously
        if await _holders(other_process.engine, job.lock_key) == 0:
            break
        await asyncio.sleep(0.05)
    assert await _holders(other_process.engine, job.lock_key) == 0
    assert await worker.run_job(job, other_process) is True


async def _noop(_ctx: worker.JobContext) -> None:
    return None
