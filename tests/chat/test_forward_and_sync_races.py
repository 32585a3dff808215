"""On PostgreSQL: racing identical forwards store one copy, and a one-cursor sync paging while
messages are being sent in many conversations loses and repeats nothing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select

from app.authz.principal import Principal
from app.chat import sending as chat_sending
from app.chat import service as chat_service
from app.chat.conversations import ensure_team_conversation
from app.chat.runtime import ChatRuntime
from app.chat.schemas import ForwardRequest, MessageCreate
from app.db import unit_of_work
from app.models import ChatMessage, Role
from app.realtime.hub import InProcessHub
from tests.chat.live import live_chat

pytestmark = pytest.mark.postgres


def _principal(account_id: uuid.UUID, role: Role) -> Principal:
    return Principal(account_id=account_id, session_id=uuid.uuid4(), role=role, display_name="x")


def _runtime(settings) -> ChatRuntime:
    return ChatRuntime(
        settings.model_copy(update={"chat_rate_limit_messages": 10_000}), InProcessHub()
    )


async def _send(sessionmaker, runtime, principal, conversation_id, text: str) -> None:
    async with unit_of_work(sessionmaker) as session:
        draft = MessageCreate(client_msg_id=uuid.uuid4().hex, text=text)
        await chat_sending.send_message(session, runtime, principal, conversation_id, draft)


async def test_racing_identical_forwards_store_one_copy(realtime_db) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    runtime = _runtime(realtime_db.settings)
    async with unit_of_work(realtime_db.sessionmaker) as session:
        team = await ensure_team_conversation(
            session, uuid.uuid4(), [chat.patient.id, chat.doctor.id], "团队"
        )
    doctor = _principal(chat.doctor.id, Role.doctor)
    patient = _principal(chat.patient.id, Role.patient)
    await _send(realtime_db.sessionmaker, runtime, patient, chat.conversation_id, "血糖 7.2")
    request = ForwardRequest(
        client_msg_id="fwd-race", from_conversation_id=chat.conversation_id, seq=1
    )

    async def forward():
        async with unit_of_work(realtime_db.sessionmaker) as session:
            return await chat_sending.forward_message(session, runtime, doctor, team.id, request)

    results = await asyncio.gather(*[forward() for _ in range(8)])
    assert len({m.id for m, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    async with realtime_db.sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).where(ChatMessage.conversation_id == team.id)
        )
    assert stored == 1


async def test_sync_while_sending_loses_and_repeats_nothing(realtime_db) -> None:
    chats = [await live_chat(realtime_db.sessionmaker, realtime_db.settings) for _ in range(4)]
    runtime = _runtime(realtime_db.settings)
    reader = chats[0].patient.id
    # One patient in four conversations: the first chat's patient joins the others' teams.
    conversations = [chats[0].conversation_id]
    async with unit_of_work(realtime_db.sessionmaker) as session:
        for other in chats[1:]:
            team = await ensure_team_conversation(
                session, uuid.uuid4(), [reader, other.doctor.id], "团队"
            )
            conversations.append(team.id)
    senders = [chats[0].doctor.id] + [c.doctor.id for c in chats[1:]]
    me = _principal(reader, Role.patient)
    seen: list[tuple[uuid.UUID, int]] = []
    cursor: str | None = None

    async def sync_once() -> bool:
        nonlocal cursor
        async with unit_of_work(realtime_db.sessionmaker) as session:
            page = await chat_service.changes(session, me, cursor, 3)
        seen.extend((m.conversation_id, m.seq) for m in page.messages)
        cursor = page.cursor
        return page.has_more

    async def keep_sending() -> None:
        for n in range(10):
            await asyncio.gather(
                *[
                    _send(
                        realtime_db.sessionmaker,
                        runtime,
                        _principal(sender, Role.doctor),
                        conversation,
                        f"m{n}",
                    )
                    for sender, conversation in zip(senders, conversations)
                ]
            )

    async def keep_syncing(done: asyncio.Event) -> None:
        while not done.is_set():
            await sync_once()
            await asyncio.sleep(0)

    done = asyncio.Event()
    syncing = asyncio.create_task(keep_syncing(done))
    await keep_sending()
    done.set()
    await syncing
    while await sync_once():
        pass
    assert len(seen) == len(set(seen))
    assert sorted(seen) == sorted((c, s) for c in conversations for s in range(1, 11))
