"""Chart images drawn off the event loop, in a small pool of renderer processes.

A render holds the GIL for most of its ~17-60 ms of CPU (an AGP PNG ~17, a whole draw 50-60): in
a worker thread it still stalls the event loop, and every upload and chat message waiting on it,
for that long. So images are drawn in child processes (CHART_RENDER_PROCESSES, default 1),
started on the first chart with the 'spawn' method (a fork of the running service would copy
its event loop, threads and connections) and warmed once (font, figures). The parent sends the
spec (plain data: strings, tuples, numpy arrays) and the drawing function by reference, and gets
the image's bytes back; the image cache and its single-flight (`chart_cache`) stay in the
parent.

A child that dies (killed for memory, a crash in a native library) breaks the pool: the pool is
replaced and the render tried once more, then the request answers 503 `chart_renderer_unavailable`.

CHART_RENDER_PROCESSES=0 draws in a worker thread instead, for a tiny deployment that cannot
spare a second process's ~120 MB resident: each render then stalls the event loop for its GIL time.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

import structlog

from app.analytics import chart_drawing
from app.errors import ServiceUnavailable

log = structlog.get_logger(__name__)

Draw = Callable[[Any, str], bytes]
# Tries per image: the first, and one more in a fresh pool if the child died.
ATTEMPTS = 2


def prepare_child() -> None:
    """A renderer process's start: leave Ctrl-C to the parent (which stops the pool), then load
    the font and build the figures so that the first chart costs what the others do."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    chart_drawing.warm_up()


class ChartRenderer:
    """Renders chart specs in `processes` child processes (0: in a worker thread). The pool
    starts on the first render and again after `close` or a crash; used from the event loop."""

    def __init__(self, processes: int, prepare: Callable[[], None] = prepare_child) -> None:
        self.processes = processes
        # Run once in each child (a module-level function or a partial of one: it is pickled).
        self._prepare = prepare
        self._pool: ProcessPoolExecutor | None = None

    def _current_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.processes, mp_context=get_context("spawn"), initializer=self._prepare
            )
        return self._pool

    async def render(self, draw: Draw, spec: Any, image_format: str) -> bytes:
        """`draw(spec, image_format)`'s image, drawn off the event loop."""
        if self.processes == 0:
            return await asyncio.to_thread(draw, spec, image_format)
        loop = asyncio.get_running_loop()
        for attempt in range(1, ATTEMPTS + 1):
            pool = self._current_pool()
            try:
                return await loop.run_in_executor(pool, draw, spec, image_format)
            except BrokenProcessPool:
                log.warning("chart renderer process died", attempt=attempt)
                self._discard(pool)
        raise ServiceUnavailable("chart_renderer_unavailable", extra={"retry_after_seconds": 1})

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        # Renders that were waiting in the broken pool fail together: the first to get here
        # replaces it, the others then find the new one.
        if self._pool is broken:
            self._pool = None
            broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the child processes (after the renders in progress); a later render starts a
        new pool."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
