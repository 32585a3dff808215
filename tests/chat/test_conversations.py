"""Conversations: one per care relationship, team groups synced, system notices in zh/en."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.chat.conversations import ensure_care_conversation, ensure_team_conversation
from app.chat.sending import post_system_notice
from app.kit.clock import utcnow
from app.models import CareRelationship, ChatConversation, ChatParticipant, Role
from tests.chat.conftest import send_text
from tests.fixtures import factories


async def _active_members(session, conversation_id) -> set[uuid.UUID]:
    rows = await session.scalars(
        select(ChatParticipant.account_id).where(
            ChatParticipant.conversation_id == conversation_id, ChatParticipant.left_at.is_(None)
        )
    )
    return set(rows)


async def test_care_conversation_is_made_once(db_session, chat) -> None:
    again = await ensure_care_conversation(db_session, chat.care_id)
    assert again.id == chat.conversation_id
    count = await db_session.scalar(
        select(func.count()).where(ChatConversation.care_relationship_id == chat.care_id)
    )
    assert count == 1
    assert await _active_members(db_session, chat.conversation_id) == {
        chat.patient.id,
        chat.doctor.id,
    }


async def test_ended_care_closes_the_conversation_and_the_doctor_leaves(
    client, db_session, chat
) -> None:
    await send_text(client, chat, chat.doctor_app, "下次复诊见")
    care = await db_session.get(CareRelationship, chat.care_id)
    care.ended_at = utcnow() - timedelta(minutes=1)
    await db_session.flush()
    await ensure_care_conversation(db_session, chat.care_id)
    assert (await client.get(chat.url("/messages"), headers=chat.doctor_app)).status_code == 404
    history = await client.get(chat.url("/messages"), headers=chat.patient_phone)
    assert history.status_code == 200 and len(history.json()["items"]) == 1
    refused = await send_text(client, chat, chat.patient_phone)
    assert refused.status_code == 409 and refused.json()["code"] == "chat_conversation_closed"


async def test_a_retry_after_the_conversation_closed_gets_its_message(
    client, db_session, chat
) -> None:
    """The client lost the first answer; the care ended meanwhile. The retry is answered from
    the stored message, numbers nothing, and a new message is still refused."""
    first = await send_text(client, chat, chat.patient_phone, "今天血压 150/95", "c-lost")
    care = await db_session.get(CareRelationship, chat.care_id)
    care.ended_at = utcnow() - timedelta(minutes=1)
    await db_session.flush()
    conversation = await ensure_care_conversation(db_session, chat.care_id)
    retry = await send_text(client, chat, chat.patient_phone, "今天血压 150/95", "c-lost")
    assert (retry.status_code, retry.json()) == (200, first.json())
    refused = await send_text(client, chat, chat.patient_phone, "还在吗", "c-new")
    assert refused.status_code == 409 and refused.json()["code"] == "chat_conversation_closed"
    await db_session.refresh(conversation)
    assert conversation.last_seq == first.json()["seq"]


async def test_team_membership_follows_the_given_members(db_session) -> None:
    a, b, c = [await factories.account(db_session, Role.doctor) for _ in range(3)]
    team = uuid.uuid4()
    first = await ensure_team_conversation(db_session, team, [a.id, b.id], "阳泉城区家医团队")
    assert await _active_members(db_session, first.id) == {a.id, b.id}
    second = await ensure_team_conversation(db_session, team, [b.id, c.id], "城区一队")
    assert second.id == first.id and second.title == "城区一队"
    assert await _active_members(db_session, first.id) == {b.id, c.id}
    await ensure_team_conversation(db_session, team, [a.id, b.id, c.id], "城区一队")
    assert await _active_members(db_session, first.id) == {a.id, b.id, c.id}


async def test_unknown_team_member_is_refused(db_session) -> None:
    with pytest.raises(ValueError, match="unknown accounts"):
        await ensure_team_conversation(db_session, uuid.uuid4(), [uuid.uuid4()], "团队")


async def test_system_notice_reads_in_both_languages(client, db_session, chat) -> None:
    await post_system_notice(
        db_session, chat.care_id, "chat_notice_doctor_assigned", {"doctor_name": "王"}
    )
    zh = (await client.get(chat.url("/messages"), headers=chat.patient_phone)).json()["items"][0]
    assert zh["kind"] == "notice" and zh["sender_account_id"] is None
    assert zh["notice"]["text"] == {
        "zh": "王医生已接诊，您可以在这里与医生沟通",
        "en": "Dr 王 is now caring for you; you can talk to them here",
    }
    assert zh["notice"]["code"] == "chat_notice_doctor_assigned"


async def test_system_notice_with_a_dedupe_key_posts_once(db_session, chat) -> None:
    first = await post_system_notice(
        db_session, chat.conversation_id, "chat_notice_prescription_approved", {}, dedupe_key="rx-1"
    )
    again = await post_system_notice(
        db_session, chat.conversation_id, "chat_notice_prescription_approved", {}, dedupe_key="rx-1"
    )
    assert again.id == first.id and first.seq == 1


async def test_system_notice_code_and_params_are_checked(db_session, chat) -> None:
    with pytest.raises(ValueError, match="unknown chat notice"):
        await post_system_notice(db_session, chat.conversation_id, "nope", {})
    with pytest.raises(ValueError, match="needs parameter"):
        await post_system_notice(
            db_session, chat.conversation_id, "chat_notice_doctor_assigned", {}
        )


async def test_patient_opens_the_conversation_of_their_care(
    client, chat, db_session, settings
) -> None:
    mine = await client.put(
        f"/api/v1/chat/care-conversations/{chat.care_id}", headers=chat.patient_phone
    )
    assert mine.status_code == 200 and mine.json()["id"] == str(chat.conversation_id)
    other = await factories.account(db_session, Role.patient)
    headers = await factories.bearer(db_session, settings, other)
    theirs = await client.put(f"/api/v1/chat/care-conversations/{chat.care_id}", headers=headers)
    assert theirs.status_code == 404
