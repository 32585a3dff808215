"""Chart images drawn in renderer processes: the event loop keeps serving while one draws, the
images are the bytes an in-process render gives, and a dead renderer is replaced (then 503)."""

from __future__ import annotations

import asyncio
import io
import pickle
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.analytics import chart_drawing, charts
from app.analytics.chart_renderer import ChartRenderer, prepare_child
from app.kit.clock import utcnow
from tests.analytics import chart_hooks
from tests.analytics.chart_helpers import chart_url, wearing
from tests.reading.helpers import cgm_item, upload

# The AGP figure: 11 x 5.6 inches at 110 dpi.
AGP_PNG_SIZE = (1210, 616)
SLOW_RENDER_SECONDS = 6.0


@pytest.fixture
async def renderer_of(app) -> AsyncIterator[Callable[[Callable[[], None]], ChartRenderer]]:
    """Gives the test's app a renderer of its own whose processes start with `prepare`; stopped
    after the test."""
    made: list[ChartRenderer] = []

    def install(prepare: Callable[[], None]) -> ChartRenderer:
        renderer = ChartRenderer(1, prepare)
        made.append(renderer)
        app.state.chart_renderer = renderer
        return renderer

    yield install
    for renderer in made:
        await asyncio.to_thread(renderer.close)


async def _until(path: Path, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(path.exists):
        assert time.monotonic() < deadline, "the renderer never started drawing"
        await asyncio.sleep(0.02)


async def test_uploads_and_health_checks_are_answered_while_a_chart_is_drawn(
    client, db_session, settings, renderer_of, tmp_path
) -> None:
    started = tmp_path / "drawing"
    renderer_of(partial(chart_hooks.slow, started, SLOW_RENDER_SECONDS))
    who = await wearing(client, db_session, settings)
    chart = asyncio.create_task(client.get(chart_url(who), headers=who.headers))
    await _until(started)
    began = time.monotonic()
    health = await client.get("/healthz")
    await upload(client, who.headers, [cgm_item(who.cgm, utcnow(), 6.1)])
    served = time.monotonic() - began
    # Both were answered while the render was still going, in a small part of its time.
    assert health.status_code == 200
    assert not chart.done()
    assert served < SLOW_RENDER_SECONDS / 3, served
    response = await chart
    assert response.status_code == 200
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert Image.open(io.BytesIO(response.content)).size == AGP_PNG_SIZE


@pytest.mark.parametrize(
    ("chart", "image_format"), [("agp", "png"), ("agp", "svg"), ("bp-trend", "png")]
)
async def test_the_renderer_process_draws_the_bytes_an_in_process_render_draws(
    client, db_session, settings, renders, chart, image_format
) -> None:
    who = await wearing(client, db_session, settings)
    response = await client.get(chart_url(who, chart, image_format), headers=who.headers)
    assert response.status_code == 200
    (spec,) = renders
    assert response.content == chart_drawing.render(spec, image_format)
    assert response.headers["etag"] == f'"{charts.image_key(spec, image_format)}"'


async def test_specs_cross_to_the_renderer_whole(client, db_session, settings, renders) -> None:
    who = await wearing(client, db_session, settings)
    for chart in ("agp", "bp-trend"):
        await client.get(chart_url(who, chart, "svg"), headers=who.headers)
    for spec in renders:
        copy = pickle.loads(pickle.dumps(spec))
        assert type(copy) is type(spec)
        for name, value in vars(spec).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(getattr(copy, name), value)
            else:
                assert getattr(copy, name) == value
        assert charts.image_key(copy, "svg") == charts.image_key(spec, "svg")


async def test_a_dead_renderer_is_replaced_and_the_chart_drawn_by_the_next(
    client, db_session, settings, renderer_of, tmp_path
) -> None:
    renderer = renderer_of(partial(chart_hooks.crashing, tmp_path / "crashed-once"))
    who = await wearing(client, db_session, settings)
    response = await client.get(chart_url(who), headers=who.headers)
    assert (tmp_path / "crashed-once").exists()  # the first process died
    assert response.status_code == 200
    assert Image.open(io.BytesIO(response.content)).size == AGP_PNG_SIZE
    # The next chart is drawn by the same replacement pool.
    pool = renderer._pool
    again = await client.get(chart_url(who, "bp-trend"), headers=who.headers)
    assert again.status_code == 200 and renderer._pool is pool


async def test_a_renderer_that_dies_again_answers_503_then_recovers(
    client, db_session, settings, renderer_of
) -> None:
    renderer_of(partial(chart_hooks.crashing, None))
    who = await wearing(client, db_session, settings)
    response = await client.get(chart_url(who), headers={**who.headers, "Accept-Language": "en"})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    problem = response.json()
    assert problem["code"] == "chart_renderer_unavailable"
    assert problem["detail"] == "The chart cannot be drawn right now; try again shortly"
    # Nothing was kept: with a working renderer the same chart is drawn.
    renderer_of(prepare_child)
    response = await client.get(chart_url(who), headers=who.headers)
    assert response.status_code == 200 and response.content.startswith(b"\x89PNG")


async def test_with_no_processes_charts_are_drawn_in_a_thread(
    client, db_session, settings, app, renders
) -> None:
    app.state.chart_renderer = ChartRenderer(0)
    who = await wearing(client, db_session, settings)
    response = await client.get(chart_url(who), headers=who.headers)
    assert response.status_code == 200
    (spec,) = renders
    assert response.content == chart_drawing.render(spec, "png")
    assert app.state.chart_renderer._pool is None  # no process was started


async def test_closing_the_renderer_stops_its_processes_and_a_render_starts_new_ones() -> None:
    renderer = ChartRenderer(1)
    spec = _agp_spec()
    first = await renderer.render(chart_drawing.render, spec, "png")
    pool = renderer._pool
    assert pool is not None
    processes = list(pool._processes.values())
    await asyncio.to_thread(renderer.close)
    assert renderer._pool is None
    assert all(not process.is_alive() for process in processes)
    assert await renderer.render(chart_drawing.render, spec, "png") == first
    await asyncio.to_thread(renderer.close)


def _agp_spec() -> chart_drawing.AgpSpec:
    hours = np.arange(0, 24.5, 0.5)
    curve = 6 + np.sin(hours / 24 * 2 * np.pi)
    return chart_drawing.AgpSpec(
        heading="P  ·  2026-12-01 to 2026-12-07 (7 days)",
        tir_title="Time in ranges (TIR)",
        band_labels=("a", "b", "c", "d", "e"),
        shares=(1.0, 4.0, 80.0, 10.0, 5.0),
        facts="Mean glucose 6.0 mmol/L",
        title="AGP",
        legend=("5%–95%", "25%–75%", "Median"),
        y_label="mmol/L",
        x_label="Time of day",
        hours=hours,
        percentiles=np.vstack([curve - 2, curve - 1, curve, curve + 1, curve + 2]),
    )
