"""publish_after_commit: events leave only after the request's transaction has committed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import DbSession
from app.errors import Conflict, install_error_handlers
from app.realtime.hub import InProcessHub
from app.realtime.publish import publish_after_commit
from tests.realtime.recording import RecordingConnection

USER = uuid.uuid4()
EVENT = {"type": "prescription.approved", "prescription_id": "p-1"}


@pytest.fixture
async def recorded() -> AsyncIterator[tuple[InProcessHub, RecordingConnection]]:
    """A hub with one recording connection of USER."""
    hub, connection = InProcessHub(), RecordingConnection()
    await hub.register(USER, connection)
    yield hub, connection
    await hub.unregister(USER, connection)


@pytest.fixture
async def http(
    sessionmaker: async_sessionmaker[AsyncSession],
    recorded: tuple[InProcessHub, RecordingConnection],
) -> AsyncIterator[httpx.AsyncClient]:
    """A tiny app whose endpoints publish after commit, then succeed or fail."""
    hub, connection = recorded
    app = FastAPI()
    app.state.sessionmaker = sessionmaker
    install_error_handlers(app)

    @app.post("/succeed")
    async def succeed(session: DbSession) -> dict[str, Any]:
        publish_after_commit(session, hub, [USER, USER], EVENT)
        return {"delivered_before_commit": len(connection.events)}

    @app.post("/refuse")
    async def refuse(session: DbSession) -> None:
        publish_after_commit(session, hub, [USER], EVENT)
        raise Conflict()

    @app.post("/crash")
    async def crash(session: DbSession) -> None:
        publish_after_commit(session, hub, [USER], EVENT)
        raise RuntimeError("boom")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_event_is_delivered_once_after_the_commit(
    http: httpx.AsyncClient, recorded: tuple[InProcessHub, RecordingConnection]
) -> None:
    _, connection = recorded
    response = await http.post("/succeed")
    assert response.status_code == 200
    assert response.json() == {"delivered_before_commit": 0}
    assert connection.events == [EVENT]


async def test_nothing_is_sent_when_a_refusal_rolls_back(
    http: httpx.AsyncClient, recorded: tuple[InProcessHub, RecordingConnection]
) -> None:
    _, connection = recorded
    assert (await http.post("/refuse")).status_code == 409
    assert connection.events == []


async def test_nothing_is_sent_when_an_error_rolls_back(
    http: httpx.AsyncClient, recorded: tuple[InProcessHub, RecordingConnection]
) -> None:
    _, connection = recorded
    assert (await http.post("/crash")).status_code == 500
    assert connection.events == []


async def test_later_changes_to_the_event_do_not_leak_into_the_push(
    db_session: AsyncSession, recorded: tuple[InProcessHub, RecordingConnection]
) -> None:
    from app.db import run_after_commit

    hub, connection = recorded
    event = {"type": "chat.message", "text": "original"}
    publish_after_commit(db_session, hub, [USER], event)
    event["text"] = "changed"
    await db_session.commit()
    await run_after_commit(db_session)
    assert connection.events == [{"type": "chat.message", "text": "original"}]


def test_an_event_that_cannot_be_sent_fails_inside_the_transaction(
    db_session: AsyncSession,
) -> None:
    with pytest.raises(ValueError, match="type"):
        publish_after_commit(db_session, InProcessHub(), [USER], {"text": "no type"})
