"""Quotes stay inside their conversation and never show what was recalled; forwards go only
into the forwarder's conversations about the same patient and share files by reference."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.chat.conversations import ensure_care_conversation, ensure_team_conversation
from app.models import ChatMessage, Role
from tests.chat.conftest import Chat, send_text
from tests.chat.media import PDF
from tests.chat.test_rich_messages import send_attachment, upload
from tests.fixtures import factories


@dataclass
class Others:
    team_id: uuid.UUID  # the patient's family-doctor team group: patient and doctor
    other_care_id: uuid.UUID  # the same doctor's conversation with another patient
    other_patient: dict[str, str]


@pytest.fixture
async def others(db_session, settings, chat: Chat) -> Others:
    team = await ensure_team_conversation(
        db_session, uuid.uuid4(), [chat.patient.id, chat.doctor.id], "糖尿病团队·患者"
    )
    other_account = await factories.account(db_session, Role.patient)
    care = await factories.care(
        db_session,
        await factories.patient_of(db_session, other_account),
        await factories.doctor_of(db_session, chat.doctor),
    )
    other = await ensure_care_conversation(db_session, care.id)
    await db_session.flush()
    return Others(
        team_id=team.id,
        other_care_id=other.id,
        other_patient=await factories.bearer(db_session, settings, other_account),
    )


async def _reply(client, chat: Chat, headers, reply_to: str, text: str = "收到"):
    return await client.post(
        chat.url("/messages"),
        headers=headers,
        json={
            "client_msg_id": uuid.uuid4().hex,
            "kind": "text",
            "text": text,
            "reply_to": reply_to,
        },
    )


async def _forward(client, to: uuid.UUID, headers, source: uuid.UUID, seq: int, key: str = ""):
    return await client.post(
        f"/api/v1/chat/conversations/{to}/forward",
        headers=headers,
        json={
            "client_msg_id": key or uuid.uuid4().hex,
            "from_conversation_id": str(source),
            "seq": seq,
        },
    )


async def test_a_reply_carries_a_preview_of_the_quoted_message(client, chat) -> None:
    asked = (
        await send_text(client, chat, chat.patient_phone, "二甲双胍饭前吃还是饭后吃？" * 5)
    ).json()
    reply = await _reply(client, chat, chat.doctor_app, asked["id"], "饭后吃")
    assert reply.status_code == 201
    quote = reply.json()["reply_to"]
    assert quote["seq"] == asked["seq"] and quote["kind"] == "text" and not quote["recalled"]
    assert quote["preview"] == ("二甲双胍饭前吃还是饭后吃？" * 5)[:50]
    history = (await client.get(chat.url("/messages"), headers=chat.patient_phone)).json()
    assert history["items"][-1]["reply_to"] == quote


async def test_a_quoted_message_recalled_later_shows_as_recalled(client, chat) -> None:
    secret = (await send_text(client, chat, chat.patient_phone, "发错了的内容")).json()
    await _reply(client, chat, chat.doctor_app, secret["id"])
    recalled = await client.post(
        chat.url(f"/messages/{secret['seq']}/recall"), headers=chat.patient_phone
    )
    assert recalled.status_code == 200
    # Quoting it after the recall is allowed too, and shows the same.
    again = await _reply(client, chat, chat.doctor_app, secret["id"])
    for shown in [
        again.json()["reply_to"],
        *[
            m["reply_to"]
            for m in (await client.get(chat.url("/messages"), headers=chat.doctor_app)).json()[
                "items"
            ]
            if m["reply_to"]
        ],
    ]:
        assert shown["recalled"] is True and shown["preview"] is None
    assert "发错了的内容" not in again.text


async def test_quoting_a_message_of_another_conversation_is_refused(client, chat, others) -> None:
    elsewhere = await client.post(
        f"/api/v1/chat/conversations/{others.team_id}/messages",
        headers=chat.doctor_app,
        json={"client_msg_id": "team-1", "kind": "text", "text": "团队消息"},
    )
    assert elsewhere.status_code == 201
    refused = await _reply(client, chat, chat.doctor_app, elsewhere.json()["id"])
    assert refused.status_code == 404 and refused.json()["code"] == "chat_quote_not_found"
    missing = await _reply(client, chat, chat.doctor_app, str(uuid.uuid4()))
    assert missing.status_code == 404
    history = (await client.get(chat.url("/messages"), headers=chat.doctor_app)).json()
    assert history["items"] == []  # nothing stored, no seq used up


async def test_doctor_forwards_a_patients_file_to_that_patients_team(
    client, chat, others, db_session
) -> None:
    attachment_id = (
        await upload(client, chat, chat.patient_phone, "file", PDF, "化验单.pdf")
    ).json()["id"]
    original = (
        await send_attachment(client, chat, chat.patient_phone, "file", attachment_id)
    ).json()
    forwarded = await _forward(client, others.team_id, chat.doctor_app, chat.conversation_id, 1)
    assert forwarded.status_code == 201, forwarded.text
    body = forwarded.json()["body"]
    assert body["attachment_id"] == attachment_id and body["file_name"] == "化验单.pdf"
    assert body["forwarded_from"]["message_id"] == original["id"]
    assert body["forwarded_from"]["sender_account_id"] == str(chat.patient.id)
    row = await db_session.scalar(
        select(ChatMessage).where(ChatMessage.id == uuid.UUID(forwarded.json()["id"]))
    )
    assert row is not None and row.forwarded_from_id == uuid.UUID(original["id"])
    assert row.attachment_id == uuid.UUID(attachment_id)  # by reference, not a copy
    # A retry is the same forward.
    key = "fwd-retry"
    first = await _forward(client, others.team_id, chat.doctor_app, chat.conversation_id, 1, key)
    retry = await _forward(client, others.team_id, chat.doctor_app, chat.conversation_id, 1, key)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["id"] == retry.json()["id"]


async def test_forwarded_file_is_readable_where_it_was_forwarded_and_nowhere_else(
    client, chat, db_session, settings
) -> None:
    # A team group of this patient with a colleague who is not in the care conversation.
    colleague = await factories.account(db_session, Role.doctor)
    team = await ensure_team_conversation(
        db_session, uuid.uuid4(), [chat.patient.id, chat.doctor.id, colleague.id], "团队"
    )
    await db_session.flush()
    colleague_app = await factories.bearer(db_session, settings, colleague)
    attachment_id = (await upload(client, chat, chat.patient_phone, "file", PDF)).json()["id"]
    await send_attachment(client, chat, chat.patient_phone, "file", attachment_id)
    url = f"/api/v1/chat/attachments/{attachment_id}"
    assert (await client.get(url, headers=colleague_app)).status_code == 404
    forwarded = await _forward(client, team.id, chat.doctor_app, chat.conversation_id, 1)
    assert forwarded.status_code == 201
    assert (await client.get(url, headers=colleague_app)).status_code == 200
    assert (await client.get(url, headers=chat.outsider)).status_code == 404
    # Recalling the forwarded copy takes it from the team, not from the care conversation.
    recall = await client.post(
        f"/api/v1/chat/conversations/{team.id}/messages/{forwarded.json()['seq']}/recall",
        headers=chat.doctor_app,
    )
    assert recall.status_code == 200
    assert (await client.get(url, headers=colleague_app)).status_code == 404
    assert (await client.get(url, headers=chat.doctor_app)).status_code == 200


async def test_the_sender_recalling_the_original_withdraws_the_file_everywhere(
    client, chat, others
) -> None:
    attachment_id = (await upload(client, chat, chat.patient_phone, "file", PDF)).json()["id"]
    await send_attachment(client, chat, chat.patient_phone, "file", attachment_id)
    assert (
        await _forward(client, others.team_id, chat.doctor_app, chat.conversation_id, 1)
    ).status_code == 201
    await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    url = f"/api/v1/chat/attachments/{attachment_id}"
    assert (await client.get(url, headers=chat.doctor_app)).status_code == 404


async def test_forwarding_a_recalled_message_is_refused(client, chat, others) -> None:
    await send_text(client, chat, chat.patient_phone, "撤回我")
    await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    refused = await _forward(client, others.team_id, chat.doctor_app, chat.conversation_id, 1)
    assert refused.status_code == 409 and refused.json()["code"] == "chat_forward_recalled"
    notice = await _forward(client, others.team_id, chat.doctor_app, chat.conversation_id, 2)
    assert notice.status_code == 409 and notice.json()["code"] == "chat_forward_kind_not_allowed"


async def test_forwarding_to_another_patients_conversation_is_403(client, chat, others) -> None:
    await send_text(client, chat, chat.patient_phone, "我的血糖")
    refused = await _forward(client, others.other_care_id, chat.doctor_app, chat.conversation_id, 1)
    assert refused.status_code == 403 and refused.json()["code"] == "chat_forward_outside_care"
    page = await client.get(
        f"/api/v1/chat/conversations/{others.other_care_id}/messages", headers=chat.doctor_app
    )
    assert page.json()["items"] == []  # nothing stored, no seq used up


async def test_forwarding_into_or_out_of_a_conversation_not_mine_is_404(
    client, chat, others
) -> None:
    await send_text(client, chat, chat.patient_phone, "我的血糖")
    # The stranger doctor takes part in neither conversation.
    into = await _forward(client, others.team_id, chat.outsider, chat.conversation_id, 1)
    assert into.status_code == 404
    # The other patient cannot pull a message out of a conversation they are not in.
    out_of = await _forward(
        client, others.other_care_id, others.other_patient, chat.conversation_id, 1
    )
    assert out_of.status_code == 404
    missing = await _forward(client, others.team_id, chat.doctor_app, chat.conversation_id, 99)
    assert missing.status_code == 404
