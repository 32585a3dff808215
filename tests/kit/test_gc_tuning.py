"""The serving process's garbage-collector settings are applied while serving and undone after."""

import gc

from app.kit.gc_tuning import YOUNG_THRESHOLD, serving_gc


def test_serving_gc_freezes_and_raises_the_threshold_then_restores() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    with serving_gc():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > frozen_before
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
