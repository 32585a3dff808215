"""One cursor syncs every conversation: one query however many there are, and paging through
it loses nothing and repeats nothing."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from app.chat.conversations import ensure_care_conversation
from app.chat.sending import post_system_notice
from app.chat.service import decode_sync_cursor, encode_sync_cursor
from app.kit.bounded import INT32_MAX
from app.kit.pagination import InvalidCursor
from app.models import Role
from tests.chat.conftest import Chat, send_text
from tests.fixtures import factories


async def _more_patients(db_session, chat: Chat, messages_each: list[int]) -> list[uuid.UUID]:
    """Conversations of the chat's doctor with new patients, each with that many notices."""
    ids = []
    for count in messages_each:
        account = await factories.account(db_session, Role.patient)
        care = await factories.care(
            db_session,
            await factories.patient_of(db_session, account),
            await factories.doctor_of(db_session, chat.doctor),
        )
        conversation = await ensure_care_conversation(db_session, care.id)
        for n in range(count):
            await post_system_notice(
                db_session, conversation.id, "chat_notice_member_joined", {"name": f"p{n}"}
            )
        ids.append(conversation.id)
    await db_session.flush()
    return ids


async def _sync_all(client, headers, since: str | None, limit: int) -> tuple[list[dict], str, int]:
    """Page through GET /sync from `since`: every message, the last cursor, the page count."""
    messages, pages, cursor = [], 0, since
    while True:
        params = {"limit": limit} | ({"since": cursor} if cursor else {})
        response = await client.get("/api/v1/chat/sync", headers=headers, params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        messages.extend(page["messages"])
        cursor, pages = page["cursor"], pages + 1
        assert pages < 200
        if not page["has_more"]:
            return messages, cursor, pages


@pytest.mark.parametrize("limit", [1, 2, 5, 500])
async def test_paging_loses_nothing_and_repeats_nothing(client, chat, db_session, limit) -> None:
    counts = [3, 0, 1, 4, 2]
    conversations = await _more_patients(db_session, chat, counts)
    await send_text(client, chat, chat.patient_phone, "一")
    await send_text(client, chat, chat.doctor_app, "二")
    messages, _, pages = await _sync_all(client, chat.doctor_app, None, limit)
    keys = [(m["conversation_id"], m["seq"]) for m in messages]
    assert len(keys) == len(set(keys))  # nothing twice
    expected = {(str(c), seq) for c, n in zip(conversations, counts) for seq in range(1, n + 1)}
    expected |= {(str(chat.conversation_id), 1), (str(chat.conversation_id), 2)}
    assert set(keys) == expected  # nothing lost
    assert pages == -(-len(expected) // limit)  # has_more is exact: no empty last page


async def test_the_cursor_brings_only_what_came_after_it(client, chat, db_session) -> None:
    (other,) = await _more_patients(db_session, chat, [2])
    _, cursor, _ = await _sync_all(client, chat.doctor_app, None, 100)
    await send_text(client, chat, chat.patient_phone, "发错了")
    await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    await post_system_notice(db_session, other, "chat_notice_member_joined", {"name": "x"})
    await db_session.flush()
    response = await client.get(
        "/api/v1/chat/sync", headers=chat.doctor_app, params={"since": cursor}
    )
    found = response.json()
    got = [(m["conversation_id"], m["seq"], m["kind"]) for m in found["messages"]]
    assert sorted(got) == sorted(
        [
            (str(chat.conversation_id), 1, "text"),
            (str(chat.conversation_id), 2, "recall"),
            (str(other), 3, "notice"),
        ]
    )
    # The recalled message comes without its text; the recall names the seq it hid.
    by_seq = {
        m["seq"]: m for m in found["messages"] if m["conversation_id"] == str(chat.conversation_id)
    }
    assert by_seq[1]["recalled"] is True and by_seq[1]["body"] is None
    assert by_seq[2]["body"]["recalled_seq"] == 1
    # Each conversation with news comes with my unread count.
    states = {c["id"]: c for c in found["conversations"]}
    assert states[str(other)]["unread"] == 3 and states[str(chat.conversation_id)]["unread"] == 2
    assert found["total_unread"] >= 5
    nothing = await client.get(
        "/api/v1/chat/sync", headers=chat.doctor_app, params={"since": found["cursor"]}
    )
    assert nothing.json()["messages"] == [] and nothing.json()["has_more"] is False


async def test_only_my_conversations_are_synced(client, chat, db_session) -> None:
    await _more_patients(db_session, chat, [2, 1])
    await send_text(client, chat, chat.patient_phone, "您好")
    mine, _, _ = await _sync_all(client, chat.patient_phone, None, 100)
    assert {m["conversation_id"] for m in mine} == {str(chat.conversation_id)}
    strangers, _, _ = await _sync_all(client, chat.outsider, None, 100)
    assert strangers == []


async def _statements_of_a_sync(client, headers, engine) -> tuple[int, int]:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        response = await client.get("/api/v1/chat/sync", headers=headers)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    reads = [s for s in statements if "FROM chat_messages" in s]
    assert len(reads) == 1  # one query for every conversation's messages
    return len(statements), len(response.json()["messages"])


async def test_sync_costs_the_same_queries_for_three_or_thirty_conversations(
    client, chat, db_session, engine
) -> None:
    await _more_patients(db_session, chat, [2, 2, 2])
    few, synced = await _statements_of_a_sync(client, chat.doctor_app, engine)
    assert synced == 6
    await _more_patients(db_session, chat, [1] * 27)
    many, synced = await _statements_of_a_sync(client, chat.doctor_app, engine)
    assert synced == 33
    assert many == few


async def test_a_cursor_that_is_not_ours_is_422(client, chat) -> None:
    for bad in ["not base64!", "AA", encode_sync_cursor({uuid.uuid4(): 3})[:-2], "Ag"]:
        response = await client.get(
            "/api/v1/chat/sync", headers=chat.doctor_app, params={"since": bad}
        )
        assert response.status_code == 422, bad
        assert response.json()["code"] in ("invalid_cursor", "validation_failed")


@given(st.dictionaries(st.uuids(), st.integers(min_value=0, max_value=INT32_MAX), max_size=50))
def test_the_cursor_round_trips(seqs: dict[uuid.UUID, int]) -> None:
    kept = {c: s for c, s in seqs.items() if s > 0}
    assert decode_sync_cursor(encode_sync_cursor(seqs)) == kept


@given(st.binary(max_size=200))
def test_any_other_cursor_is_refused_not_crashed(raw: bytes) -> None:
    import base64

    text = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    try:
        decoded = decode_sync_cursor(text)
    except InvalidCursor:
        return
    assert all(0 < seq <= INT32_MAX for seq in decoded.values())
