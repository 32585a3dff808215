"""/readyz names every part the process needs and answers 503 when one of them is down."""

from __future__ import annotations

import asyncio

from app.health.readiness import OUTBOX_RELAY_TASK


async def test_ready_reports_the_state_of_every_part(client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert {k: v for k, v in body.items() if not k.endswith("revisions")} == {
        "status": "ok",
        "database": "ok",
        "redis": "not_configured",
        "realtime": "ok",
        "outbox_relay": "disabled",
        "background_jobs": "disabled",
    }


async def _finished(name: str) -> asyncio.Task[None]:
    async def nothing() -> None:
        return None

    task = asyncio.create_task(nothing(), name=name)
    await task
    return task


async def _forever(name: str) -> asyncio.Task[None]:
    return asyncio.create_task(asyncio.Event().wait(), name=name)


async def test_an_enabled_relay_that_stopped_makes_the_process_not_ready(client, app) -> None:
    app.state.settings = app.state.settings.model_copy(update={"outbox_relay_enabled": True})
    app.state.background_tasks = [await _finished(OUTBOX_RELAY_TASK)]
    response = await client.get("/readyz")
    assert response.status_code == 503
    problem = response.json()
    assert problem["code"] == "outbox_relay_stopped"
    assert problem["parts"]["outbox_relay"] == "stopped" and problem["parts"]["database"] == "ok"
    assert problem["detail"] == "消息投递任务未运行"


async def test_an_enabled_relay_that_never_started_makes_the_process_not_ready(client, app) -> None:
    app.state.settings = app.state.settings.model_copy(update={"outbox_relay_enabled": True})
    response = await client.get("/readyz")
    assert response.status_code == 503 and response.json()["code"] == "outbox_relay_stopped"


async def test_a_periodic_job_that_died_makes_the_process_not_ready(client, app) -> None:
    app.state.settings = app.state.settings.model_copy(update={"background_jobs_enabled": True})
    alive = await _forever("reading-maintenance")
    try:
        app.state.background_tasks = [alive, await _finished("chat-jobs")]
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["code"] == "background_jobs_stopped"
        app.state.background_tasks = [alive]
        assert (await client.get("/readyz")).status_code == 200
    finally:
        alive.cancel()
