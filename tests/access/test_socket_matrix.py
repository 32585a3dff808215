"""The access matrix of the realtime websocket's client frames: every registered frame type x
every role x someone else's conversation, over a real socket. Fails on a frame type without a
policy, as test_matrix.py does for routes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.models import ChatConversation, ChatMessage, ChatParticipant, Role
from app.realtime import handlers
from tests.access.rules import ALL, Rule, only
from tests.chat.live import LiveChat, live_chat
from tests.fixtures import databases
from tests.fixtures.servers import serve_in_loop
from tests.realtime.clients import authed, recv_json, sign_in, ws_url

# Frame type -> who may send it; hidden: it names a conversation, so someone else's is 404.
POLICY: dict[str, Rule] = {
    "chat.send": Rule(ALL, hidden=True),
    "chat.read": Rule(ALL, hidden=True),
    "chat.recall": Rule(ALL, hidden=True),
    "chat.typing": Rule(ALL, hidden=True),
    # Acts only on the caller's own conversations; a cursor for someone else's is ignored.
    "chat.sync": Rule(ALL),
    "chat.changes": Rule(ALL),
    "chat.forward": Rule(ALL, hidden=True),
    "presence.update": Rule(only(Role.doctor)),
}


def _frame(kind: str, conversation_id: str) -> dict[str, Any]:
    """A well-formed frame of `kind` aimed at `conversation_id`."""
    fields: dict[str, dict[str, Any]] = {
        "chat.send": {"client_msg_id": "m-1", "kind": "text", "text": "你好"},
        "chat.read": {"up_to_seq": 1},
        "chat.recall": {"seq": 1},
        "chat.typing": {},
        "chat.sync": {"since": {conversation_id: 0}, "limit": 50},
        "chat.changes": {"since": None, "limit": 50},
        "chat.forward": {
            "client_msg_id": "f-1",
            "from_conversation_id": conversation_id,
            "seq": 1,
        },
        "presence.update": {"status": "online"},
    }
    return {"type": kind, "ref": kind, "conversation_id": conversation_id, **fields[kind]}


def test_every_client_frame_type_has_a_policy() -> None:
    create_app(Settings(APP_ENV=Environment.test))  # registers every domain's frame handlers
    # The app's own frame types (tests may register probes of their own, e.g. test.echo).
    app_types = [t for t, h in handlers._handlers.items() if h.__module__.startswith("app.")]
    assert sorted(app_types) == sorted(POLICY), "declare frame types in POLICY"


async def _conversation_state(sessionmaker, chat: LiveChat) -> tuple[Any, ...]:
    async with sessionmaker() as session:
        conversation = await session.get(ChatConversation, chat.conversation_id)
        assert conversation is not None
        messages = await session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(ChatMessage.conversation_id == chat.conversation_id)
        )
        reads = (
            await session.scalars(
                select(ChatParticipant.read_seq)
                .where(ChatParticipant.conversation_id == chat.conversation_id)
                .order_by(ChatParticipant.account_id)
            )
        ).all()
        return conversation.last_seq, messages, tuple(reads)


@pytest.fixture(scope="module")
async def socket_service() -> AsyncIterator[tuple[str, Settings, Any]]:
    """The app under uvicorn on a database of its own (rows committed); its websocket URL."""
    url = await databases.create_migrated_database()
    settings = Settings(
        APP_ENV=Environment.test,
        database_url=url,
        redis_url=None,
        outbox_relay_enabled=False,
        fake_wechat_enabled=False,
    )
    engine = create_engine(settings)
    try:
        async with serve_in_loop(create_app(settings)) as base_url:
            yield ws_url(base_url), settings, create_sessionmaker(engine)
    finally:
        await engine.dispose()
        await databases.drop_database(url)


async def test_socket_matrix(socket_service) -> None:
    url, settings, sessionmaker = socket_service
    foreign = await live_chat(sessionmaker, settings)
    target = str(foreign.conversation_id)
    before = await _conversation_state(sessionmaker, foreign)
    failures = []
    for role in Role:
        user = await sign_in(sessionmaker, settings, role)
        async with authed(url, user) as ws:
            for kind, rule in POLICY.items():
                await ws.send(json.dumps(_frame(kind, target)))
                reply = await recv_json(ws)
                assert reply.get("ref") == kind, reply
                problem = _judge(rule, role, target, reply)
                if problem:
                    failures.append(f"{kind} as {role}: {reply} ({problem})")
    assert failures == []
    assert await _conversation_state(sessionmaker, foreign) == before


def _judge(rule: Rule, role: Role, target: str, reply: dict[str, Any]) -> str | None:
    refused = reply.get("type") == "error"
    assert rule.roles is not None
    if role not in rule.roles:
        return None if refused and reply["code"] == "forbidden_role" else "expected forbidden_role"
    if rule.hidden:
        return None if refused and reply["code"] == "not_found" else "expected not_found"
    if refused:
        return "allowed role refused"
    if reply["type"] == "chat.synced":
        seen = [c["conversation"]["id"] for c in reply["conversations"]]
        return "someone else's conversation synced" if target in seen else None
    if reply["type"] == "chat.changes":
        seen = [m["conversation_id"] for m in reply["messages"]]
        return "someone else's messages synced" if target in seen else None
    return None
