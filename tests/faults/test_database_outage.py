"""The database dropped and restored under a running service: requests fail cleanly (503
problem+json `database_unreachable`, quickly), /readyz says so, and the same process serves
again once the database is back - with every write it acknowledged in the database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection

from app.kit.clock import utcnow
from app.models import Reading
from app.realtime.hub import CloseCode
from tests.faults.conftest import (
    CarePatient,
    FaultDb,
    Practice,
    committed_database,
    count_of,
    practice,
    service_env,
)
from tests.fixtures import databases
from tests.fixtures.servers import UvicornProcess, start_uvicorn, wait_until
from tests.realtime.clients import authed, close_of, opened, ws_url

pytestmark = pytest.mark.postgres

WRITERS = 4
# No request may take longer than this, outage or not (a hung request is not a clean failure).
LATENCY_BOUND_SECONDS = 5.0
OUTAGE_SECONDS = 2.0


@dataclass
class Service:
    db: FaultDb
    practice: Practice
    server: UvicornProcess
    http: httpx.AsyncClient


@pytest.fixture(scope="module")
async def service() -> AsyncIterator[Service]:
    """One service process on a database of its own, for the whole module."""
    async with committed_database() as db:
        people = await practice(db, WRITERS)
        env = service_env(db.url, db_pool_size="4", db_max_overflow="2", ws_heartbeat_seconds="1")
        async with (
            start_uvicorn(env) as server,
            httpx.AsyncClient(base_url=server.url, timeout=30) as http,
        ):
            yield Service(db, people, server, http)


class Postgres:
    """The server's administrator: cuts a database off and lets it back."""

    def __init__(self, connection: asyncpg.Connection, database: str) -> None:
        self._connection = connection
        self._database = database

    async def terminate_sessions(self) -> int:
        """Kill every open connection to the database and wait (up to 5 s each) until its
        backend has exited; how many there were."""
        killed = await self._connection.fetchval(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            self._database,
        )
        return int(killed)

    async def allow_connections(self, allowed: bool) -> None:
        """Refuse (or accept again) new connections to the database, superusers included."""
        value = "true" if allowed else "false"
        await self._connection.execute(
            f'ALTER DATABASE "{self._database}" ALLOW_CONNECTIONS {value}'
        )


@pytest.fixture
async def postgres(service: Service) -> AsyncIterator[Postgres]:
    assert databases.POSTGRES_SERVER_URL
    server = make_url(databases.POSTGRES_SERVER_URL).set(drivername="postgresql")
    connection = await asyncpg.connect(server.render_as_string(hide_password=False))
    admin = Postgres(connection, service.db.name)
    try:
        yield admin
    finally:
        await admin.allow_connections(True)  # whatever happened, the database must be dropped
        await connection.close()


@dataclass
class Attempt:
    patient: CarePatient
    measured_at: datetime
    status: int | None
    code: str | None
    seconds: float
    started: float


@dataclass
class Writers:
    """Patients uploading one reading at a time, each at a new time, without retrying."""

    http: httpx.AsyncClient
    patients: list[CarePatient]
    attempts: list[Attempt] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self, status: int | None, since: float = 0.0) -> int:
        return sum(1 for a in self.attempts if a.status == status and a.started >= since)

    async def run(self) -> None:
        await asyncio.gather(*(self._write(n, patient) for n, patient in enumerate(self.patients)))

    async def _write(self, n: int, patient: CarePatient) -> None:
        # One 5-minute CGM point per write (closer ones would be too dense), starting far
        # enough back that the writes never reach the present.
        start = utcnow() - timedelta(days=60, minutes=n)
        step = 0
        while not self.stop.is_set():
            at = start + timedelta(minutes=5 * step)
            step += 1
            began = time.monotonic()
            try:
                response = await self.http.post(
                    "/api/v1/readings", json=patient.cgm_batch(at, 1), headers=patient.headers
                )
            except httpx.TransportError:
                status, code = None, None
            else:
                status, code = response.status_code, _problem_code(response)
            self.attempts.append(
                Attempt(patient, at, status, code, time.monotonic() - began, began)
            )
            await asyncio.sleep(0.02)


@dataclass
class Listener:
    """A patient app's open socket: answers the server's pings and notes when they came."""

    ws: ClientConnection
    pings: list[float] = field(default_factory=list)

    async def run(self) -> None:
        async for frame in self.ws:
            if json.loads(frame)["type"] == "ping":
                self.pings.append(time.monotonic())
                await self.ws.send(json.dumps({"type": "pong"}))


def _problem_code(response: httpx.Response) -> str | None:
    if response.is_success:
        return None
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    assert "Traceback" not in response.text
    return str(body["code"])


async def _stored(db: FaultDb, attempts: list[Attempt]) -> int:
    """How many of these attempts' readings the database holds."""
    found = 0
    for attempt in attempts:
        found += await db.scalar(
            count_of(
                Reading,
                Reading.device_id == attempt.patient.device_id,
                Reading.measured_at == attempt.measured_at,
            )
        )
    return found


async def test_outage_answers_503_quickly_and_the_same_process_recovers_without_loss(
    service: Service, postgres: Postgres
) -> None:
    writers = Writers(service.http, service.practice.patients)
    patient = service.practice.patients[0]
    socket_url = ws_url(service.server.url)
    async with authed(socket_url, patient.user) as ws:
        listener = Listener(ws)
        listening = asyncio.create_task(listener.run())
        load = asyncio.create_task(writers.run())
        try:
            await wait_until(lambda: writers.count(200) >= 8, within=20, what="writes before")
            await postgres.allow_connections(False)
            killed = await postgres.terminate_sessions()
            cut_at = time.monotonic()
            await wait_until(lambda: writers.count(503, cut_at) >= 4, within=10, what="503s")
            ready = await service.http.get("/readyz")
            assert ready.status_code == 503 and _problem_code(ready) == "database_unreachable"
            assert (await service.http.get("/healthz")).status_code == 200
            # A socket cannot sign in now: told to come back later, not failed with 1011.
            async with opened(socket_url) as turned_away:
                await turned_away.send(json.dumps({"type": "auth", "token": patient.token}))
                closed = await close_of(turned_away)
            assert closed == (CloseCode.unavailable, "database_unreachable")
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - cut_at)))
            await postgres.allow_connections(True)
            restored_at = time.monotonic()
            await wait_until(
                lambda: writers.count(200, restored_at) >= 8, within=20, what="writes after"
            )
            recovered_after = min(
                a.started + a.seconds - restored_at
                for a in writers.attempts
                if a.status == 200 and a.started >= restored_at
            )
            # The open socket kept its heartbeat through the outage and is still open.
            beats = len(listener.pings)
            await wait_until(lambda: len(listener.pings) > beats, within=5, what="a ping after")
            assert any(cut_at <= at <= restored_at for at in listener.pings)
            assert not listening.done()
        finally:
            writers.stop.set()
            await load
            listening.cancel()
    async with authed(socket_url, patient.user):
        pass  # and signing in works again
    assert (await service.http.get("/readyz")).status_code == 200
    assert service.server.process.returncode is None  # recovered without a restart

    attempts = writers.attempts
    outcomes = {(a.status, a.code) for a in attempts}
    assert outcomes <= {(200, None), (503, "database_unreachable")}, service.server.log_tail()
    slowest = max(a.seconds for a in attempts)
    assert slowest < LATENCY_BOUND_SECONDS
    answered = [a for a in attempts if a.status == 200]
    refused = [a for a in attempts if a.status == 503]
    # Nothing acknowledged is lost.
    assert await _stored(service.db, answered) == len(answered)
    # The apps retry what was refused (same device and time: the idempotency key) ...
    for attempt in refused:
        response = await service.http.post(
            "/api/v1/readings",
            json=attempt.patient.cgm_batch(attempt.measured_at, 1),
            headers=attempt.patient.headers,
        )
        report = response.json()
        assert report["accepted"] + report["duplicate"] == 1, response.text
    # ... and then every reading is stored exactly once.
    devices = [p.device_id for p in service.practice.patients]
    stored = count_of(Reading, Reading.device_id.in_(devices))
    assert await service.db.scalar(stored) == len(attempts)
    print(
        f"\ndatabase outage: {killed} connections killed, {len(refused)} requests answered 503 "
        f"in {OUTAGE_SECONDS:.0f} s, slowest answer {slowest * 1000:.0f} ms, first write "
        f"after restore in {recovered_after * 1000:.0f} ms; {len(answered)} acknowledged "
        f"writes all stored"
    )


async def test_connections_killed_while_idle_are_replaced_without_an_error(
    service: Service, postgres: Postgres
) -> None:
    patient = service.practice.patients[0]
    # Fill the pool, then kill every pooled connection behind the service's back.
    at = utcnow() - timedelta(hours=5)
    batches = [patient.cgm_batch(at + timedelta(minutes=5 * n), 1) for n in range(4)]
    await asyncio.gather(
        *(
            service.http.post("/api/v1/readings", json=batch, headers=patient.headers)
            for batch in batches
        )
    )
    assert await postgres.terminate_sessions() >= 1
    times = [at + timedelta(minutes=25 + 5 * n) for n in range(4)]
    later = [patient.cgm_batch(moment, 1) for moment in times]
    responses = await asyncio.gather(
        *(
            service.http.post("/api/v1/readings", json=batch, headers=patient.headers)
            for batch in later
        )
    )
    # The pool finds each connection closed at checkout and opens a new one.
    assert [r.status_code for r in responses] == [200] * len(later)
    stored = count_of(
        Reading, Reading.device_id == patient.device_id, Reading.measured_at.in_(times)
    )
    assert await service.db.scalar(stored) == len(later)
