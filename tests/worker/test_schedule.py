"""The one schedule of periodic work: every job runs, and a job never overlaps itself."""

from __future__ import annotations

import asyncio

import pytest

from app import worker


def test_every_job_has_its_own_name_and_lock() -> None:
    names = [job.name for job in worker.SCHEDULE]
    assert len(set(names)) == len(names)
    assert len({job.lock_key for job in worker.SCHEDULE}) == len(names)


@pytest.mark.parametrize("job", worker.SCHEDULE, ids=lambda job: job.name)
async def test_each_job_of_the_schedule_runs(job: worker.Job, job_context) -> None:
    assert job.every(job_context.settings) > 0
    assert await worker.run_job(job, job_context) is True


async def test_a_run_is_skipped_while_the_same_job_is_still_running(job_context) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def slow(_ctx: worker.JobContext) -> None:
        runs.append("ran")
        started.set()
        await release.wait()

    job = worker.Job("slow-test-job", lambda s: 1.0, slow)
    first = asyncio.create_task(worker.run_job(job, job_context))
    await started.wait()
    assert await worker.run_job(job, job_context) is False
    release.set()
    assert await first is True
    release.clear()
    release.set()
    assert await worker.run_job(job, job_context) is True
    assert runs == ["ran", "ran"]


async def test_the_schedule_keeps_running_after_a_failed_run(job_context) -> None:
    calls = 0

    async def flaky(_ctx: worker.JobContext) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first run fails")
        ran_again.set()

    ran_again = asyncio.Event()
    job = worker.Job("flaky-test-job", lambda s: 0.01, flaky)
    task = asyncio.create_task(worker.run_schedule(job_context, [job]))
    await asyncio.wait_for(ran_again.wait(), timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls >= 2
