"""Long-running processes stop on SIGTERM (deployments) and SIGINT (a terminal)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable


async def until_signalled(work: Awaitable[None]) -> None:
    """Await `work` until it ends or SIGTERM/SIGINT cancels it; a signalled stop returns
    quietly, after `work`'s own clean-up ran."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await work
