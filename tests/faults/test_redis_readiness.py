"""A process whose Redis is away says so on /readyz (503, naming the part), is ready only once
its realtime listener is subscribed (so a socket opened then is served, not sent away with
1013), and keeps limiting chat sends on its own while Redis is gone.

The Redis is a private `redis-server` (tests/faults/test_redis_outage.py), started late and
killed on purpose; the shared one is never touched.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from app.realtime.hub import CloseCode
from tests.faults.conftest import FaultDb, practice, service_env
from tests.faults.test_redis_outage import REDIS_SERVER, PrivateRedis
from tests.fixtures.servers import start_uvicorn, wait_until
from tests.realtime.clients import authed, close_of, opened, ws_url

pytestmark = [pytest.mark.redis]

LIMIT = 3  # chat messages per minute in this test


async def _readiness(http: httpx.AsyncClient) -> tuple[int, dict[str, object]]:
    response = await http.get("/readyz")
    return response.status_code, response.json()


async def test_readiness_follows_redis_and_the_chat_limit_holds_without_it(
    fault_db: FaultDb,
) -> None:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    people = await practice(fault_db, 1)
    patient = people.patients[0]
    messages = f"/api/v1/chat/conversations/{patient.conversation_id}/messages"
    redis = PrivateRedis()  # configured, but not started yet
    env = service_env(
        fault_db.url,
        redis_url=redis.url,
        outbox_relay_enabled="true",
        background_jobs_enabled="true",
        chat_rate_limit_messages=str(LIMIT),
        chat_rate_limit_window_seconds="60",
    )
    try:
        async with (
            start_uvicorn(env) as server,
            httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        ):
            status, body = await _readiness(http)
            assert status == 503 and body["code"] == "redis_unreachable", body
            assert body["parts"] == {
                "database": "ok",
                "redis": "unreachable",
                "realtime": "not_listening",
                "outbox_relay": "ok",
                "background_jobs": "ok",
            }
            # What "not ready" protects a client from: its socket cannot be served now.
            async with opened(ws_url(server.url)) as ws:
                await ws.send(json.dumps({"type": "auth", "token": patient.token}))
                assert await close_of(ws) == (CloseCode.unavailable, "realtime_unavailable")

            await redis.start()

            async def ready() -> bool:
                return (await _readiness(http))[0] == 200

            await wait_until(ready, within=30, interval=0.1, what="ready once redis is up")
            # Ready means the listener is subscribed: a socket opened now is served at once.
            async with authed(ws_url(server.url), patient.user):
                pass
            assert (await _readiness(http))[1]["realtime"] == "ok"

            await redis.kill()

            async def not_ready() -> bool:
                status, body = await _readiness(http)
                return status == 503 and body["code"] == "redis_unreachable"

            await wait_until(not_ready, within=10, what="not ready once redis is gone")
            # The chat limit does not turn off: this process counts on its own meanwhile.
            answers = []
            for n in range(LIMIT + 1):
                body = {"client_msg_id": f"p-{uuid.uuid4().hex}", "text": f"第{n}条"}
                answers.append(await http.post(messages, json=body, headers=patient.headers))
            assert [a.status_code for a in answers] == [201] * LIMIT + [429], server.log_tail()
            refused = answers[-1]
            assert refused.json()["code"] == "chat_rate_limited"
            assert int(refused.headers["Retry-After"]) >= 1
    finally:
        await redis.kill()
