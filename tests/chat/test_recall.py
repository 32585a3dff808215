"""Recall: the sender's own message, within two minutes; the body is hidden, never deleted."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from app.kit.clock import shifted_by
from app.models import ChatMessage
from tests.chat.conftest import events_of, send_text


async def test_recall_within_the_window_hides_the_body_from_everyone(
    client, chat, online, db_session
) -> None:
    doctor_events = await online(chat.doctor.id)
    sent = (await send_text(client, chat, chat.patient_phone, "发错了")).json()
    with shifted_by(timedelta(seconds=110)):
        recall = await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    assert recall.status_code == 200
    notice = recall.json()
    assert notice["seq"] == 2 and notice["kind"] == "recall"
    assert notice["body"] == {"recalled_seq": 1}
    assert notice["notice"]["text"]["en"].endswith("recalled a message")
    assert "撤回了一条消息" in notice["notice"]["text"]["zh"]

    page = (await client.get(chat.url("/messages"), headers=chat.doctor_app)).json()
    original = page["items"][0]
    assert original["recalled"] is True and original["body"] is None
    assert "发错了" not in str(page)
    # Live participants learn of it as the next message in the conversation.
    assert [e["message"]["seq"] for e in events_of(doctor_events, "chat.message")] == [1, 2]
    # Kept for audit.
    row = await db_session.scalar(
        select(ChatMessage).where(ChatMessage.id == uuid.UUID(sent["id"]))
    )
    assert row.body == {"text": "发错了"} and row.recalled_at is not None


async def test_recall_after_two_minutes_is_refused(client, chat) -> None:
    await send_text(client, chat, chat.patient_phone, "太晚了")
    with shifted_by(timedelta(seconds=121)):
        response = await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    assert response.status_code == 409
    assert response.json()["code"] == "chat_recall_window_passed"
    page = (await client.get(chat.url("/messages"), headers=chat.doctor_app)).json()
    assert page["items"][0]["body"] == {"text": "太晚了"}


async def test_only_the_sender_may_recall(client, chat) -> None:
    await send_text(client, chat, chat.patient_phone)
    response = await client.post(chat.url("/messages/1/recall"), headers=chat.doctor_app)
    assert response.status_code == 403 and response.json()["code"] == "chat_recall_not_own"


async def test_recalling_twice_returns_the_same_notice(client, chat) -> None:
    await send_text(client, chat, chat.patient_phone)
    first = await client.post(chat.url("/messages/1/recall"), headers=chat.patient_tablet)
    second = await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    assert first.json() == second.json()
    page = (await client.get(chat.url("/messages"), headers=chat.doctor_app)).json()
    assert [m["seq"] for m in page["items"]] == [1, 2]


async def test_a_recall_notice_cannot_itself_be_recalled(client, chat) -> None:
    await send_text(client, chat, chat.patient_phone)
    await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    response = await client.post(chat.url("/messages/2/recall"), headers=chat.patient_phone)
    assert response.status_code == 409 and response.json()["code"] == "chat_recall_not_allowed"
