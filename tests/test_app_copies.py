"""Each test's app is its own copy of the worker's app template (tests/conftest.py): a route or
state one test adds to its app reaches neither the template nor another test's app, while the
template's routes answer in every copy."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI, Request

from tests.fixtures.apps import own_copy


async def _get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.get(path)


async def test_a_route_added_to_one_copy_is_served_by_that_copy_only(app_template) -> None:
    first, second = own_copy(app_template), own_copy(app_template)
    extra = APIRouter()

    @extra.get("/only-in-the-first")
    async def only_here(request: Request) -> dict[str, bool]:
        return {"first": request.app is first}

    first.include_router(extra)
    assert (await _get(first, "/only-in-the-first")).json() == {"first": True}
    assert (await _get(second, "/only-in-the-first")).status_code == 404
    assert len(app_template.router.routes) == len(second.router.routes)
    assert (await _get(second, "/healthz")).status_code == 200


def test_state_set_on_one_copy_is_not_on_another(app_template) -> None:
    first, second = own_copy(app_template), own_copy(app_template)
    first.state.hub = "the first test's hub"
    assert not hasattr(second.state, "hub") and not hasattr(app_template.state, "hub")
    assert first.state.settings is second.state.settings is app_template.state.settings
