"""Sending: numbered in order, idempotent by client message id, limited in size and rate."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import ChatMessage, OutboxMessage
from tests.chat.conftest import LimitWindow, events_of, send_text, use_settings


async def test_messages_get_consecutive_seqs_from_one(client, chat) -> None:
    seqs = []
    for headers in (chat.patient_phone, chat.doctor_app, chat.patient_tablet):
        response = await send_text(client, chat, headers)
        assert response.status_code == 201
        seqs.append(response.json()["seq"])
    assert seqs == [1, 2, 3]


async def test_retry_with_same_client_id_returns_the_original(client, chat, db_session) -> None:
    first = await send_text(client, chat, chat.patient_phone, "血糖有点高", "c-1")
    retry = await send_text(client, chat, chat.patient_tablet, "血糖有点高", "c-1")
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json() == first.json()
    stored = await db_session.scalar(
        select(func.count()).where(ChatMessage.conversation_id == chat.conversation_id)
    )
    assert stored == 1


async def test_client_id_of_another_sender_is_a_conflict(client, chat) -> None:
    await send_text(client, chat, chat.patient_phone, client_msg_id="same")
    response = await send_text(client, chat, chat.doctor_app, client_msg_id="same")
    assert response.status_code == 409
    assert response.json()["code"] == "chat_client_msg_id_taken"


async def test_text_over_the_limit_is_refused_with_413(client, chat, app) -> None:
    use_settings(app, chat_max_text_chars=10)
    assert (await send_text(client, chat, chat.patient_phone, "一" * 10)).status_code == 201
    response = await send_text(client, chat, chat.patient_phone, "一" * 11)
    assert response.status_code == 413
    assert response.json()["code"] == "chat_message_too_large"
    assert "10" in response.json()["detail"]


async def test_sending_past_the_rate_limit_is_429_with_retry_after(client, chat, app) -> None:
    use_settings(app, chat_rate_limit_messages=3, chat_rate_limit_window_seconds=60)
    window = LimitWindow(60)
    for _ in range(3):
        assert (await send_text(client, chat, chat.patient_phone)).status_code == 201
    refused = await window.refused(lambda: send_text(client, chat, chat.patient_tablet))
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["code"] == "chat_rate_limited" and body["retry_after_seconds"] >= 1
    # Per user: the doctor is not held back by the patient's sends.
    assert (await send_text(client, chat, chat.doctor_app)).status_code == 201


async def test_non_participant_cannot_send_or_read(client, chat) -> None:
    assert (await send_text(client, chat, chat.outsider)).status_code == 404
    assert (await client.get(chat.url("/messages"), headers=chat.outsider)).status_code == 404
    assert (await client.get(chat.url(), headers=chat.outsider)).status_code == 404


async def test_blank_or_mismatched_content_is_malformed(client, chat) -> None:
    blank = {"client_msg_id": "b1", "kind": "text", "text": "   "}
    card_without_card = {"client_msg_id": "b2", "kind": "card", "text": "hi"}
    for body in (blank, card_without_card):
        response = await client.post(chat.url("/messages"), headers=chat.patient_phone, json=body)
        assert response.status_code == 422


async def test_card_links_a_product_object(client, chat) -> None:
    ref = str(chat.patient_id)  # an AGP chart card names the patient whose chart it is
    response = await client.post(
        chat.url("/messages"),
        headers=chat.doctor_app,
        json={
            "client_msg_id": "card-1",
            "kind": "card",
            "card": {"card_type": "agp_chart", "ref_id": ref, "title": "近14天AGP"},
        },
    )
    assert response.status_code == 201
    assert response.json()["body"] == {
        "card_type": "agp_chart",
        "ref_id": ref,
        "title": "近14天AGP",
    }


async def test_every_device_of_every_participant_gets_the_message(client, chat, online) -> None:
    phone, tablet = await online(chat.patient.id), await online(chat.patient.id)
    doctor = await online(chat.doctor.id)
    sent = (await send_text(client, chat, chat.doctor_app, "今天测了吗")).json()
    for connection in (phone, tablet, doctor):
        assert [e["message"] for e in events_of(connection, "chat.message")] == [sent]


async def test_offline_participant_gets_a_push_and_online_one_does_not(
    client, chat, online, db_session
) -> None:
    await online(chat.doctor.id)
    sent = (await send_text(client, chat, chat.doctor_app, "请回复")).json()
    # The outbox names the account; the provider looks the openid up when it sends.
    assert await _pushes(db_session) == [str(chat.patient.id)]
    await online(chat.patient.id)
    await send_text(client, chat, chat.doctor_app, "收到了吗")
    assert len(await _pushes(db_session)) == 1
    push = await db_session.scalar(
        select(OutboxMessage).where(OutboxMessage.kind == "push.notification")
    )
    assert push.payload["data"]["seq"] == sent["seq"]
    assert "请回复" not in str(push.payload)
    assert chat.patient.wechat_openid not in str(push.payload)


async def _pushes(session) -> list[str]:
    rows = await session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "push.notification")
    )
    return [row.payload["recipient"] for row in rows]
