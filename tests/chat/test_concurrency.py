"""Concurrent sends on PostgreSQL: seqs are exactly 1..N, and a racing retry stores one message."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select

from app.authz.principal import Principal
from app.chat import sending as chat_sending
from app.chat.runtime import ChatRuntime
from app.chat.schemas import MessageCreate
from app.db import unit_of_work
from app.models import ChatMessage, Role
from app.realtime.hub import InProcessHub
from tests.chat.live import live_chat

pytestmark = pytest.mark.postgres


def _principal(account_id: uuid.UUID, role: Role) -> Principal:
    return Principal(account_id=account_id, session_id=uuid.uuid4(), role=role, display_name="x")


async def _send(sessionmaker, runtime, principal, conversation_id, client_msg_id: str):
    async with unit_of_work(sessionmaker) as session:
        draft = MessageCreate(client_msg_id=client_msg_id, text="并发")
        message, _ = await chat_sending.send_message(
            session, runtime, principal, conversation_id, draft
        )
    return message


async def test_concurrent_sends_get_gapless_unique_seqs(realtime_db) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    runtime = ChatRuntime(
        realtime_db.settings.model_copy(update={"chat_rate_limit_messages": 10_000}),
        InProcessHub(),
    )
    people = [_principal(chat.patient.id, Role.patient), _principal(chat.doctor.id, Role.doctor)]
    sends = [
        _send(realtime_db.sessionmaker, runtime, people[n % 2], chat.conversation_id, f"c{n}")
        for n in range(40)
    ]
    acked = await asyncio.gather(*sends)
    assert sorted(m.seq for m in acked) == list(range(1, 41))
    async with realtime_db.sessionmaker() as session:
        stored = await session.scalars(
            select(ChatMessage.seq).where(ChatMessage.conversation_id == chat.conversation_id)
        )
        assert sorted(stored) == list(range(1, 41))


async def test_racing_retries_store_one_message(realtime_db) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    runtime = ChatRuntime(realtime_db.settings, InProcessHub())
    patient = _principal(chat.patient.id, Role.patient)
    acked = await asyncio.gather(
        *[
            _send(realtime_db.sessionmaker, runtime, patient, chat.conversation_id, "same")
            for _ in range(8)
        ]
    )
    assert {m.id for m in acked} == {acked[0].id} and acked[0].seq == 1
    async with realtime_db.sessionmaker() as session:
        stored = (
            await session.scalars(
                select(ChatMessage).where(ChatMessage.conversation_id == chat.conversation_id)
            )
        ).all()
        assert len(stored) == 1
