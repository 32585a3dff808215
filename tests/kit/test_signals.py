"""Long-running processes stop quietly on SIGTERM, after their own clean-up."""

from __future__ import annotations

import asyncio
import os
import signal

from app.kit.signals import until_signalled


async def test_sigterm_cancels_the_work_which_cleans_up_and_the_stop_is_quiet() -> None:
    steps: list[str] = []
    started = asyncio.Event()

    async def work() -> None:
        try:
            steps.append("started")
            started.set()
            await asyncio.Event().wait()  # until cancelled
            steps.append("ran through")
        finally:
            steps.append("cleaned up")

    async def main() -> None:
        task = asyncio.create_task(until_signalled(work()))
        await asyncio.wait_for(started.wait(), timeout=5)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, timeout=5)

    try:
        await main()
    finally:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    assert steps == ["started", "cleaned up"]
