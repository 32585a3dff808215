"""Renderer-process starts for tests (`ChartRenderer(prepare=...)`): each warms the child as
the service does, then makes the child's drawing slow or crash. They change the child only: the
parent pickles `chart_drawing.render` by name, and the child's unpickling finds the function
put here."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from app.analytics import chart_drawing
from app.analytics.chart_renderer import prepare_child


def slow(started: Path, seconds: float) -> None:
    """Each render first touches `started`, then keeps this process's CPU (and GIL) busy for
    `seconds`, as a long render would."""
    prepare_child()
    draw = chart_drawing.render

    def slow_render(spec: Any, image_format: str) -> bytes:
        started.touch()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pass
        return draw(spec, image_format)

    chart_drawing.render = slow_render


def crashing(survivor: Path | None) -> None:
    """A render kills its process, as a crash in a native library would; with `survivor`, only
    the first (it leaves the file behind, and a render that finds it draws)."""
    prepare_child()
    draw = chart_drawing.render

    def crash(spec: Any, image_format: str) -> bytes:
        if survivor is None or not survivor.exists():
            if survivor is not None:
                survivor.touch()
            os._exit(70)
        return draw(spec, image_format)

    chart_drawing.render = crash
