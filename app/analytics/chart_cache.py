"""Rendered chart images kept in this process's memory, by image key (`charts.image_key`).

The key is a hash of everything an image shows, so a kept image never goes stale: a patient's
new readings, another period or language make another key. Each process keeps its own; the
images are the same bytes in every process. (No cachetools here: it is not a dependency, and
the size bound by bytes plus one render per key at a time is a few lines.)
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from functools import partial

from starlette.datastructures import State


class ChartCache:
    """Least recently used images up to `max_bytes` in all. Concurrent requests for an image
    that is not kept share one render. Used from the event loop only."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._images: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._rendering: dict[str, asyncio.Future[bytes]] = {}

    @property
    def size(self) -> int:
        """Bytes of the images kept."""
        return self._bytes

    def __contains__(self, key: str) -> bool:
        return key in self._images

    async def image(self, key: str, render: Callable[[], Awaitable[bytes]]) -> bytes:
        """The image of `key`: kept, being rendered for another request, or `render()`ed now
        (and kept)."""
        kept = self._images.get(key)
        if kept is not None:
            self._images.move_to_end(key)
            return kept
        rendering = self._rendering.get(key)
        if rendering is None:
            rendering = asyncio.ensure_future(render())
            self._rendering[key] = rendering
            rendering.add_done_callback(partial(self._rendered, key))
        # Shielded: a request that goes away does not cancel the others' render.
        return await asyncio.shield(rendering)

    def _rendered(self, key: str, rendering: asyncio.Future[bytes]) -> None:
        del self._rendering[key]
        if not rendering.cancelled() and rendering.exception() is None:
            self._keep(key, rendering.result())

    def _keep(self, key: str, image: bytes) -> None:
        if len(image) > self.max_bytes:
            return
        self._images[key] = image
        self._bytes += len(image)
        while self._bytes > self.max_bytes:
            _, dropped = self._images.popitem(last=False)
            self._bytes -= len(dropped)


def chart_cache(state: State) -> ChartCache:
    """The application's chart cache (made on first use, sized by CHART_CACHE_MAX_BYTES)."""
    cache: ChartCache | None = getattr(state, "chart_cache", None)
    if cache is None:
        cache = ChartCache(state.settings.chart_cache_max_bytes)
        state.chart_cache = cache
    return cache
