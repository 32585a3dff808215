"""Fixtures of the analytics tests."""

from __future__ import annotations

from typing import Any

import pytest

from app.analytics.chart_renderer import ChartRenderer


@pytest.fixture
def renders(monkeypatch) -> list[Any]:
    """Every spec the endpoints have had rendered (the real rendering still happens, in the
    renderer process)."""
    done: list[Any] = []
    render = ChartRenderer.render

    async def counting(self, draw, spec, image_format):
        done.append(spec)
        return await render(self, draw, spec, image_format)

    monkeypatch.setattr(ChartRenderer, "render", counting)
    return done
