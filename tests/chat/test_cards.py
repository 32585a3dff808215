"""Card messages name an object the sender may share in the conversation: one of its patient's,
seen through that object's own scope; anything else is 404 and nothing is stored."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import func, select

from app.chat.conversations import ensure_care_conversation
from app.models import CareRelationship, ChatMessage, Role
from tests.chat.conftest import Chat
from tests.fixtures import factories
from tests.prescription.world import World, build, ok, rx_body

CARD_TYPES = ("readings_summary", "agp_chart", "prescription", "delivery", "bill")


def card(card_type: str, ref_id: object) -> dict[str, Any]:
    """A card message body."""
    return {
        "client_msg_id": uuid.uuid4().hex,
        "kind": "card",
        "card": {"card_type": card_type, "ref_id": str(ref_id), "title": "请看"},
    }


async def _stored(db_session, conversation_id: uuid.UUID) -> int:
    return int(
        await db_session.scalar(
            select(func.count()).where(ChatMessage.conversation_id == conversation_id)
        )
    )


@pytest.mark.parametrize("card_type", CARD_TYPES)
async def test_a_card_of_no_object_is_not_found(client, chat: Chat, db_session, card_type) -> None:
    response = await client.post(
        chat.url("/messages"), headers=chat.doctor_app, json=card(card_type, uuid.uuid4())
    )
    assert response.status_code == 404
    assert response.json()["code"] == "chat_card_not_found"
    assert await _stored(db_session, chat.conversation_id) == 0


async def test_a_doctor_cannot_post_another_patients_chart_into_this_conversation(
    client, chat: Chat, db_session, settings
) -> None:
    # The doctor may see the other patient (also in their care), but not share them here.
    other = await factories.account(db_session, Role.patient)
    other_patient = await factories.patient_of(db_session, other)
    await factories.care(
        db_session, other_patient, await factories.doctor_of(db_session, chat.doctor)
    )
    response = await client.post(
        chat.url("/messages"), headers=chat.doctor_app, json=card("agp_chart", other_patient.id)
    )
    assert response.status_code == 404 and response.json()["code"] == "chat_card_not_found"
    mine = await client.post(
        chat.url("/messages"), headers=chat.doctor_app, json=card("agp_chart", chat.patient_id)
    )
    assert mine.status_code == 201


async def test_a_patient_cannot_share_someone_elses_readings(
    client, chat: Chat, db_session
) -> None:
    other = await factories.patient_of(
        db_session, await factories.account(db_session, Role.patient)
    )
    response = await client.post(
        chat.url("/messages"), headers=chat.patient_phone, json=card("readings_summary", other.id)
    )
    assert response.status_code == 404
    own = await client.post(
        chat.url("/messages"),
        headers=chat.patient_phone,
        json=card("readings_summary", chat.patient_id),
    )
    assert own.status_code == 201 and own.json()["body"]["ref_id"] == str(chat.patient_id)


@pytest.fixture
async def world(db_session, settings) -> World:
    """A patient in a doctor's care with a formulary (tests/prescription/world.py)."""
    return await build(db_session, settings)


async def test_a_prescription_card_is_shared_within_the_prescriptions_scope(
    client, world: World, db_session
) -> None:
    care_id = await db_session.scalar(
        select(CareRelationship.id).where(
            CareRelationship.patient_id == world.patient.id,
            CareRelationship.doctor_id == world.doctor.id,
        )
    )
    conversation = await ensure_care_conversation(db_session, care_id)
    draft = await ok(
        await client.post(
            "/api/v1/prescriptions", json=rx_body(world), headers=world.as_("doctor")
        ),
        201,
    )
    url = f"/api/v1/chat/conversations/{conversation.id}/messages"
    by_doctor = await client.post(
        url, headers=world.as_("doctor"), json=card("prescription", draft["id"])
    )
    assert by_doctor.status_code == 201, by_doctor.text
    # Patients see their prescriptions once signed: a draft is nothing they can share.
    by_patient = await client.post(
        url, headers=world.as_("patient"), json=card("prescription", draft["id"])
    )
    assert by_patient.status_code == 404
    assert by_patient.json()["code"] == "chat_card_not_found"
