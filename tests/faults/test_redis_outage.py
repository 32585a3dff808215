"""Redis killed under two service processes: writes keep being accepted, realtime delivery
degrades (sockets are told to come back later), and once Redis is back the hubs reconnect by
themselves, live delivery across processes works again and clients catch up through sync.

The Redis here is a private `redis-server` on a port of its own: the shared one is never
touched.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
    wait_random,
)
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from app.kit.clock import utcnow
from app.models import ChatMessage, Reading
from app.realtime.hub import CloseCode, RedisHub
from tests.faults.conftest import (
    FaultDb,
    Member,
    count_of,
    port_outside_ephemeral_range,
    practice,
    service_env,
)
from tests.fixtures.servers import start_uvicorn, wait_until
from tests.realtime.clients import authed, close_of, opened, ws_url
from tests.realtime.recording import RecordingConnection
from tests.realtime.test_redis_hub import register_when_listening

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REDIS_SERVER = shutil.which("redis-server")
MISSED = 5  # messages the doctor sends while Redis is away
# A write must not wait on Redis: far below the time a hung Redis call would take.
WRITE_BOUND_SECONDS = 1.5


class PrivateRedis:
    """A throwaway redis-server (no persistence) that the test can kill and start again."""

    def __init__(self) -> None:
        self.port = port_outside_ephemeral_range()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        """Start it on its port and wait until it answers PING."""
        assert REDIS_SERVER is not None
        self._process = await asyncio.create_subprocess_exec(
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = Redis.from_url(self.url, socket_connect_timeout=1)
        try:

            async def answers() -> bool:
                try:
                    return bool(await client.ping())
                except (RedisError, OSError):
                    return False

            await wait_until(answers, within=10, interval=0.05, what="redis-server")
        finally:
            await client.aclose()

    async def kill(self) -> None:
        """SIGKILL: connections drop at once, nothing is said to clients."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()


@pytest.fixture
async def private_redis() -> AsyncIterator[PrivateRedis]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed")
    redis = PrivateRedis()
    await redis.start()
    try:
        yield redis
    finally:
        await redis.kill()


async def next_message(ws: ClientConnection, seq: int) -> dict[str, Any]:
    """The `chat.message` event of message `seq` (pings and other events skipped)."""
    async with asyncio.timeout(10):
        while True:
            event = json.loads(await ws.recv())
            if event["type"] == "chat.message" and event["message"]["seq"] == seq:
                return dict(event["message"])


async def connect_when_ready(stack: AsyncExitStack, url: str, member: Member) -> ClientConnection:
    """Reconnect as an app does: with backoff, until the server says ready."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type((ConnectionClosed, InvalidStatus, OSError)),
        wait=wait_exponential(multiplier=0.05, max=1.0) + wait_random(0, 0.1),
        stop=stop_after_delay(30),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await stack.enter_async_context(authed(url, member.user))
    raise AssertionError("unreachable")


async def test_redis_outage_keeps_writes_flowing_and_realtime_catches_up(
    fault_db: FaultDb, private_redis: PrivateRedis
) -> None:
    people = await practice(fault_db, 1)
    doctor, patient = people.doctor, people.patients[0]
    messages = f"/api/v1/chat/conversations/{patient.conversation_id}/messages"
    env = service_env(fault_db.url, redis_url=private_redis.url)
    async with (
        start_uvicorn(env) as first,
        start_uvicorn(env) as second,
        httpx.AsyncClient(base_url=first.url, timeout=10) as on_first,
        httpx.AsyncClient(base_url=second.url, timeout=10) as on_second,
        AsyncExitStack() as sockets,
    ):

        async def doctor_says(text: str, n: int) -> float:
            body = {"client_msg_id": f"d-{n}", "text": text}
            began = time.monotonic()
            response = await on_second.post(messages, json=body, headers=doctor.headers)
            assert response.status_code == 201, response.text
            return time.monotonic() - began

        # Before: the patient on process 1 hears the doctor writing on process 2.
        patient_ws = await connect_when_ready(sockets, ws_url(first.url), patient)
        doctor_ws = await connect_when_ready(sockets, ws_url(second.url), doctor)
        await doctor_says("今天血糖怎么样？", 1)
        assert (await next_message(patient_ws, 1))["body"]["text"] == "今天血糖怎么样？"

        await private_redis.kill()
        # Delivery degrades: every socket is told to come back later, on both processes.
        for ws in (patient_ws, doctor_ws):
            assert await close_of(ws) == (CloseCode.unavailable, "realtime_unavailable")
        async with opened(ws_url(first.url)) as refused:
            await refused.send(json.dumps({"type": "auth", "token": patient.token}))
            assert await close_of(refused) == (CloseCode.unavailable, "realtime_unavailable")

        # Writes keep being accepted, without waiting on Redis.
        write_seconds = [
            await doctor_says(f"第{n}条：记得按时服药", n) for n in range(2, 2 + MISSED)
        ]
        start = utcnow() - timedelta(hours=2)
        upload = await on_first.post(
            "/api/v1/readings", json=patient.cgm_batch(start, 12), headers=patient.headers
        )
        assert upload.status_code == 200 and upload.json()["accepted"] == 12
        assert max(write_seconds) < WRITE_BOUND_SECONDS

        await private_redis.start()
        back_at = time.monotonic()
        # The apps reconnect (socket first), then catch up from their last seq.
        patient_ws = await connect_when_ready(sockets, ws_url(first.url), patient)
        doctor_ws = await connect_when_ready(sockets, ws_url(second.url), doctor)
        reconnected_after = time.monotonic() - back_at
        synced = await on_first.post(
            "/api/v1/chat/sync",
            json={"since": {str(patient.conversation_id): 1}},
            headers=patient.headers,
        )
        assert synced.status_code == 200, synced.text
        (conversation,) = synced.json()["conversations"]
        assert [m["seq"] for m in conversation["messages"]] == list(range(2, 2 + MISSED))
        assert not conversation["has_more"]

        # Live delivery across processes works again, both ways.
        last = 2 + MISSED
        await doctor_says("收到请回复", last)
        assert (await next_message(patient_ws, last))["sender_account_id"] == str(doctor.account_id)
        reply = {"client_msg_id": "p-1", "text": "收到"}
        answered = await on_first.post(messages, json=reply, headers=patient.headers)
        assert answered.status_code == 201, answered.text
        assert (await next_message(doctor_ws, last + 1))["body"]["text"] == "收到"
        assert first.process.returncode is None and second.process.returncode is None

    in_conversation = ChatMessage.conversation_id == patient.conversation_id
    assert await fault_db.scalar(count_of(ChatMessage, in_conversation)) == last + 1
    assert await fault_db.scalar(count_of(Reading, Reading.device_id == patient.device_id)) == 12
    print(
        f"\nredis outage: {MISSED} chat writes accepted while Redis was down (slowest "
        f"{max(write_seconds) * 1000:.0f} ms); both sockets live again {reconnected_after:.1f} s "
        f"after Redis restarted; sync returned the {MISSED} missed messages"
    )


async def test_first_event_after_a_redis_restart_reaches_the_reconnected_client(
    private_redis: PrivateRedis,
) -> None:
    # Two hubs as in two processes; the publisher's pooled connection predates the restart.
    publisher, holder = RedisHub(private_redis.url), RedisHub(private_redis.url)
    await publisher.start()
    await holder.start()
    try:
        user = uuid.uuid4()
        before = RecordingConnection()
        await register_when_listening(holder, user, before)
        await publisher.publish(user, {"type": "before"})
        await wait_until(lambda: bool(before.events), what="the event before")

        await private_redis.kill()
        await wait_until(lambda: before.closed_with is not None, what="the socket told to resync")
        await holder.unregister(user, before)  # as the gateway does when the socket closes
        await private_redis.start()

        after = RecordingConnection()
        await register_when_listening(holder, user, after)
        await publisher.publish(user, {"type": "after"})
        await wait_until(lambda: bool(after.events), what="the first event after the restart")
        assert after.events == [{"type": "after"}]
    finally:
        await publisher.stop()
        await holder.stop()
