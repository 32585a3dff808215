"""Chat integrity: client ids and the server's own keys never meet, retries are answered from
what was stored (even while rate-limited), every 429 says when to come back, a repeated recall
says it created nothing."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.chat.sending import post_system_notice
from app.config import Environment, Settings
from app.errors import AppError, TooManyRequests, problem_response
from app.main import create_app
from app.models import ChatMessage
from tests.chat.conftest import LimitWindow, send_text, use_settings
from tests.chat.live import live_chat, next_of, send_frame
from tests.realtime.clients import authed, recv_json


async def test_a_client_id_shaped_like_a_recall_key_cannot_block_the_recall(
    client, chat, db_session
) -> None:
    await send_text(client, chat, chat.doctor_app, "胰岛素加到 20 单位")  # seq 1, a mistake
    # The patient gets in first with the key the doctor's recall of seq 1 used to take.
    squatter = await send_text(client, chat, chat.patient_phone, "收到", "recall:1")
    assert squatter.status_code == 201 and squatter.json()["client_msg_id"] == "recall:1"

    recall = await client.post(chat.url("/messages/1/recall"), headers=chat.doctor_app)

    assert recall.status_code == 200, recall.text
    notice = recall.json()
    assert notice["kind"] == "recall" and notice["body"] == {"recalled_seq": 1}
    assert notice["seq"] == 3 and notice["client_msg_id"] is None
    page = (await client.get(chat.url("/messages"), headers=chat.patient_phone)).json()
    assert [(m["seq"], m["recalled"]) for m in page["items"]] == [(1, True), (2, False), (3, False)]
    assert "20 单位" not in str(page)


async def test_a_client_id_shaped_like_a_notice_key_cannot_suppress_the_notice(
    client, chat, db_session
) -> None:
    await send_text(client, chat, chat.patient_phone, "你好", "notice:care-ended")

    notice = await post_system_notice(
        db_session, chat.conversation_id, "chat_notice_care_ended", {}, dedupe_key="care-ended"
    )
    again = await post_system_notice(
        db_session, chat.conversation_id, "chat_notice_care_ended", {}, dedupe_key="care-ended"
    )

    assert notice.kind == "notice" and notice.sender_account_id is None
    assert notice.client_msg_id is None and notice.server_key == "notice:care-ended"
    assert again.id == notice.id  # the dedupe key still posts once
    kinds = await db_session.scalars(
        select(ChatMessage.kind)
        .where(ChatMessage.conversation_id == chat.conversation_id)
        .order_by(ChatMessage.seq)
    )
    assert list(kinds) == ["text", "notice"]


async def test_a_retry_while_rate_limited_gets_the_stored_message(client, chat, app) -> None:
    use_settings(app, chat_rate_limit_messages=2, chat_rate_limit_window_seconds=60)
    window = LimitWindow(60)
    first = await send_text(client, chat, chat.patient_phone, "早餐后 9.8", "m-1")
    await send_text(client, chat, chat.patient_phone, "午餐后 11.2", "m-2")
    refused = await window.refused(lambda: send_text(client, chat, chat.patient_phone, "晚餐后"))
    assert refused.status_code == 429

    # The phone lost the first answer and retries from its other device.
    retry = await send_text(client, chat, chat.patient_tablet, "早餐后 9.8", "m-1")

    assert retry.status_code == 200, retry.text
    assert retry.json() == first.json()


async def test_a_retry_does_not_count_against_the_rate_limit(client, chat, app) -> None:
    use_settings(app, chat_rate_limit_messages=2, chat_rate_limit_window_seconds=60)
    assert (await send_text(client, chat, chat.patient_phone, "一", "m-1")).status_code == 201
    for _ in range(3):
        assert (await send_text(client, chat, chat.patient_phone, "一", "m-1")).status_code == 200
    assert (await send_text(client, chat, chat.patient_phone, "二", "m-2")).status_code == 201


async def test_a_rate_limited_send_carries_retry_after(client, chat, app) -> None:
    use_settings(app, chat_rate_limit_messages=1, chat_rate_limit_window_seconds=30)
    window = LimitWindow(30)
    await send_text(client, chat, chat.patient_phone)
    refused = await window.refused(lambda: send_text(client, chat, chat.patient_phone))
    assert refused.status_code == 429
    seconds = int(refused.headers["Retry-After"])
    assert 1 <= seconds <= 30 and refused.json()["retry_after_seconds"] == seconds
    assert f"{seconds} 秒" in refused.json()["detail"]


def _subclasses(cls: type) -> list[type]:
    return [s for c in cls.__subclasses__() for s in (c, *_subclasses(c))]


def test_every_429_error_of_the_app_says_when_to_retry() -> None:
    create_app(Settings(APP_ENV=Environment.test))  # imports every domain and its errors
    too_many = [cls for cls in _subclasses(AppError) if cls.status == 429]
    assert too_many, "the chat rate limit at least answers 429"
    assert all(issubclass(cls, TooManyRequests) for cls in too_many), too_many
    assert problem_response(429, "x", "y", retry_after=7).headers["Retry-After"] == "7"


def test_a_429_without_retry_after_cannot_be_built() -> None:
    try:
        problem_response(429, "too_many_requests", "slow down")
    except ValueError:
        return
    raise AssertionError("a 429 without Retry-After was answered")


async def test_a_repeated_recall_over_the_socket_acks_created_false(
    start_gateway, realtime_db
) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    async with start_gateway() as gateway, authed(gateway.url, chat.patient) as ws:
        await send_frame(ws, chat.conversation_id, "发错了")
        sent = await next_of(ws, "chat.ack")
        seq = sent["message"]["seq"]
        recall = {"type": "chat.recall", "conversation_id": str(chat.conversation_id), "seq": seq}
        await ws.send(json.dumps({**recall, "ref": "r1"}))
        first = await next_of(ws, "chat.ack")
        await ws.send(json.dumps({**recall, "ref": "r2"}))
        second = await next_of(ws, "chat.ack")
    assert (first["ref"], first["created"]) == ("r1", True)
    assert (second["ref"], second["created"]) == ("r2", False)
    assert second["message"] == first["message"]


async def test_a_recall_repeated_by_someone_else_is_not_theirs(client, chat) -> None:
    await send_text(client, chat, chat.patient_phone)
    assert (
        await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    ).status_code == 200
    again = await client.post(chat.url("/messages/1/recall"), headers=chat.doctor_app)
    assert again.status_code == 403 and again.json()["code"] == "chat_recall_not_own"


async def test_over_the_socket_a_retry_is_acked_while_a_new_send_is_told_when_to_retry(
    start_gateway, realtime_db
) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    limits = {"chat_rate_limit_messages": 1, "chat_rate_limit_window_seconds": 60}
    window = LimitWindow(60)
    async with start_gateway(**limits) as gateway, authed(gateway.url, chat.patient) as ws:
        await send_frame(ws, chat.conversation_id, "空腹 6.1", "m-1")
        first = await next_of(ws, "chat.ack")
        await send_frame(ws, chat.conversation_id, "餐后 9.0", "m-2")
        refused = await _ack_or_error(ws)
        if refused["type"] == "chat.ack" and window.crossed():
            # Admitted on a window edge (one more, never two): the next new send is refused.
            await send_frame(ws, chat.conversation_id, "午餐 7.2", "m-3")
            refused = await _ack_or_error(ws)
        await send_frame(ws, chat.conversation_id, "空腹 6.1", "m-1")
        retried = await next_of(ws, "chat.ack")
    assert refused["type"] == "error", refused
    assert refused["code"] == "chat_rate_limited" and refused["ref"] in ("m-2", "m-3")
    assert 1 <= refused["retry_after_seconds"] <= 60
    assert (first["created"], retried["created"]) == (True, False)
    assert retried["message"] == first["message"]


async def _ack_or_error(ws) -> dict:
    """The next chat.ack or error frame, skipping others (events of the conversation)."""
    while True:
        frame = await recv_json(ws)
        if frame["type"] in ("chat.ack", "error"):
            return frame
