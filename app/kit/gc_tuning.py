"""Garbage-collector settings for a serving process.

A request allocates thousands of short-lived objects (an upload of 288 readings, a panel of 200
patients); with CPython's default thresholds that sets off collections of the whole heap, the
app's long-lived modules, models and compiled statements included, a few milliseconds each.
After start-up the long-lived objects are frozen out of collection and the young generation's
threshold raised: cyclic garbage is still collected, just in fewer, cheaper passes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Net new container objects (allocations minus frees) that set off a young collection.
YOUNG_THRESHOLD = 50_000


@contextmanager
def serving_gc() -> Iterator[None]:
    """Freeze what start-up made and raise the young threshold; undone on shutdown (tests
    start and stop many apps in one process). Freezing is a list splice, so start-up stays
    quick; what start-up left as garbage waits for shutdown to be collected."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
