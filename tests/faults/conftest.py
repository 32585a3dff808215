"""Fault-test helpers: a committed database of their own, patients in a doctor's care, clients
that retry as the phone apps do, and row counts - the verdict of every fault test."""

from __future__ import annotations

import random
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Select, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from app.chat.conversations import ensure_care_conversation
from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.models import Account, CareRelationship, Doctor, Role
from tests.fixtures import databases, factories
from tests.reading.helpers import device
from tests.realtime.clients import User

# Answers a client retries: the service (or what stands in front of it) is away for a moment.
TRANSIENT_STATUSES = frozenset({502, 503, 504})


def port_outside_ephemeral_range() -> int:
    """A free port below Linux's ephemeral range (32768-60999), for a server restarted on the
    same port. While the server is down an ephemeral port could become the local end of some
    outgoing connection (even a retrying client's connect to it: TCP self-connect), and the
    restarted server could not bind it."""
    for port in random.sample(range(20000, 32000), 100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@dataclass(frozen=True)
class FaultDb:
    """A migrated database of its own: service processes and the test see committed rows only."""

    url: str
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def name(self) -> str:
        """The database's name on the server."""
        name = make_url(self.url).database
        assert name is not None
        return name

    async def scalar(self, statement: Select[Any]) -> int:
        """The one number `statement` selects (a count, a maximum ...), read afresh; 0 if NULL."""
        async with self.sessionmaker() as session:
            return int(await session.scalar(statement) or 0)


@asynccontextmanager
async def committed_database() -> AsyncIterator[FaultDb]:
    """A fresh migrated database, dropped afterwards."""
    url = await databases.create_migrated_database()
    settings = Settings(APP_ENV=Environment.test, database_url=url, outbox_relay_enabled=False)
    engine = create_engine(settings)
    try:
        yield FaultDb(url, settings, create_sessionmaker(engine))
    finally:
        await engine.dispose()
        await databases.drop_database(url)


@pytest.fixture
async def fault_db() -> AsyncIterator[FaultDb]:
    """A database for one fault test."""
    async with committed_database() as db:
        yield db


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a service process under test: no relay or periodic jobs unless asked,
    no Redis unless given, warnings and errors logged (their tail explains a failure)."""
    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "OUTBOX_RELAY_ENABLED": "false",
        "BACKGROUND_JOBS_ENABLED": "false",
        "FAKE_WECHAT_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        **{name.upper(): value for name, value in settings.items()},
    }


@dataclass(frozen=True)
class Member:
    """A signed-in account; its id is also its realtime user id."""

    account_id: uuid.UUID
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def user(self) -> User:
        """The same account as the realtime test clients know it."""
        return User(self.account_id, self.token)


@dataclass(frozen=True)
class CarePatient(Member):
    """A patient in the doctor's care, with a CGM (mg/dL) and the care conversation."""

    patient_id: uuid.UUID
    device_id: uuid.UUID
    conversation_id: uuid.UUID

    def cgm_batch(self, start: datetime, count: int, step_seconds: int = 300) -> dict[str, Any]:
        """A readings upload of `count` CGM points from `start`, one per `step_seconds` (the
        5-minute CGM's interval: closer readings would be too dense)."""
        items = [
            {
                "kind": "cgm",
                "device_id": str(self.device_id),
                "measured_at": (start + timedelta(seconds=n * step_seconds)).isoformat(),
                "value": 100 + (n * 7) % 60,  # mg/dL, in range: no alert work
                "unit": "mg/dL",
            }
            for n in range(count)
        ]
        return {"items": items}


@dataclass(frozen=True)
class Practice:
    """A doctor and the patients in their care."""

    doctor: Member
    patients: list[CarePatient]


async def care_patient(
    session: AsyncSession, settings: Settings, account: Account, care: CareRelationship
) -> CarePatient:
    """The patient of `care` signed in, with a CGM bound and the care conversation opened."""
    cgm = await device(session, await factories.patient_of(session, account), "cgm", "mg/dL")
    conversation = await ensure_care_conversation(session, care.id)
    headers = await factories.bearer(session, settings, account)
    token = headers["Authorization"].removeprefix("Bearer ")
    return CarePatient(account.id, token, care.patient_id, cgm.id, conversation.id)


async def patients_of(
    session: AsyncSession, settings: Settings, doctor: Doctor, count: int
) -> list[CarePatient]:
    """`count` new patients in `doctor`'s care (see `care_patient`)."""
    patients = []
    for _ in range(count):
        account = await factories.account(session, Role.patient)
        care = await factories.care(session, await factories.patient_of(session, account), doctor)
        patients.append(await care_patient(session, settings, account, care))
    return patients


async def practice(db: FaultDb, patients: int) -> Practice:
    """A committed practice: a new doctor with `patients` patients."""
    async with db.sessionmaker() as session:
        account = await factories.account(session, Role.doctor)
        doctor = await factories.doctor_of(session, account)
        members = await patients_of(session, db.settings, doctor, patients)
        headers = await factories.bearer(session, db.settings, account)
        await session.commit()
    return Practice(Member(account.id, headers["Authorization"].removeprefix("Bearer ")), members)


def outcome_of(state: RetryCallState) -> str:
    """What one failed attempt ran into: `refused` (nothing reached the service),
    `interrupted` (the request may have reached it; no answer came) or `http_<status>`."""
    assert state.outcome is not None
    if state.outcome.failed:
        error = state.outcome.exception()
        return "refused" if isinstance(error, httpx.ConnectError) else "interrupted"
    response: httpx.Response = state.outcome.result()
    return f"http_{response.status_code}"


@dataclass
class RetryingClient:
    """An HTTP client that retries as the apps do: on transport errors and 502/503/504, with
    jittered exponential backoff (tenacity), sending the same body and keys every time."""

    http: httpx.AsyncClient
    within: float = 60.0
    failed_attempts: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The first non-transient answer; raises once `within` seconds have passed."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(httpx.TransportError)
            | retry_if_result(lambda response: response.status_code in TRANSIENT_STATUSES),
            wait=wait_exponential(multiplier=0.05, max=1.0) + wait_random(0, 0.1),
            stop=stop_after_delay(self.within),
            before_sleep=self._note,
            reraise=True,
        )
        return await retrying(self._send, method, url, **kwargs)

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.in_flight += 1
        try:
            return await self.http.request(method, url, **kwargs)
        finally:
            self.in_flight -= 1

    def _note(self, state: RetryCallState) -> None:
        self.failed_attempts[outcome_of(state)] += 1


def count_of(model: Any, *conditions: Any) -> Select[Any]:
    """`SELECT count(*) FROM model WHERE conditions`."""
    return select(func.count()).select_from(model).where(*conditions)
