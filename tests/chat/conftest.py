"""Chat fixtures: a care conversation between a patient (two devices) and a doctor."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.chat.conversations import ensure_care_conversation
from app.chat.runtime import ChatRuntime
from app.config import Settings
from app.models import Account, Role
from tests.fixtures import factories
from tests.realtime.conftest import hub_redis_url, realtime_db, start_gateway
from tests.realtime.recording import RecordingConnection

__all__ = ["hub_redis_url", "realtime_db", "start_gateway"]


@dataclass
class Chat:
    """A care conversation and the people in it."""

    conversation_id: uuid.UUID
    care_id: uuid.UUID
    patient_id: uuid.UUID
    patient: Account
    doctor: Account
    patient_phone: dict[str, str]
    patient_tablet: dict[str, str]
    doctor_app: dict[str, str]
    outsider: dict[str, str]

    def url(self, suffix: str = "") -> str:
        """The conversation's endpoint URL."""
        return f"/api/v1/chat/conversations/{self.conversation_id}{suffix}"


@pytest.fixture
async def chat(db_session: AsyncSession, settings: Settings) -> Chat:
    """A patient with two signed-in devices, their doctor, and a stranger doctor."""
    patient = await factories.account(db_session, Role.patient)
    doctor = await factories.account(db_session, Role.doctor)
    stranger = await factories.account(db_session, Role.doctor)
    care = await factories.care(
        db_session,
        await factories.patient_of(db_session, patient),
        await factories.doctor_of(db_session, doctor),
    )
    conversation = await ensure_care_conversation(db_session, care.id)
    await db_session.flush()
    return Chat(
        conversation_id=conversation.id,
        care_id=care.id,
        patient_id=care.patient_id,
        patient=patient,
        doctor=doctor,
        patient_phone=await factories.bearer(db_session, settings, patient),
        patient_tablet=await factories.bearer(db_session, settings, patient),
        doctor_app=await factories.bearer(db_session, settings, doctor),
        outsider=await factories.bearer(db_session, settings, stranger),
    )


def use_settings(app: Any, **overrides: Any) -> Settings:
    """Give the app (and its chat runtime) settings with `overrides` for this test."""
    changed = app.state.settings.model_copy(update=overrides)
    app.state.settings = changed
    app.state.chat_runtime = ChatRuntime(changed, app.state.hub)
    return changed


@pytest.fixture
async def online(app: Any) -> AsyncIterator[Any]:
    """Register recording connections for accounts: `conn = await online(account_id)`."""
    registered: list[tuple[uuid.UUID, RecordingConnection]] = []

    async def connect(account_id: uuid.UUID) -> RecordingConnection:
        connection = RecordingConnection()
        await app.state.hub.register(account_id, connection)
        registered.append((account_id, connection))
        return connection

    yield connect
    for account_id, connection in registered:
        await app.state.hub.unregister(account_id, connection)


async def send_text(
    client: httpx.AsyncClient,
    chat: Chat,
    headers: dict[str, str],
    text: str = "您好",
    client_msg_id: str | None = None,
) -> httpx.Response:
    """POST a text message to the chat's conversation."""
    return await client.post(
        chat.url("/messages"),
        headers=headers,
        json={"client_msg_id": client_msg_id or uuid.uuid4().hex, "kind": "text", "text": text},
    )


class LimitWindow:
    """The rate limit's fixed window when a test's sends begin. In this process the chat limit is
    a sliding-window counter over fixed windows (time // window): it weighs the previous
    window by what is left of it, so sends that straddle a window edge may let one more
    through, never two."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.time() // seconds

    def crossed(self) -> bool:
        """Whether a window edge has passed since the sends began."""
        return time.time() // self.seconds != self.start

    async def refused(self, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """`send` once the limit is reached: again if the first went through on an edge."""
        response = await send()
        if response.status_code == 201 and self.crossed():
            response = await send()
        return response


def events_of(connection: RecordingConnection, kind: str) -> list[dict[str, Any]]:
    """The recorded events of one type."""
    return [e for e in connection.events if e["type"] == kind]
