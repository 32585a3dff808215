"""Read state: read-up-to per account, unread counts and badge on every device, receipts."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.authz.principal import Principal
from app.chat import sending as chat_sending
from app.chat import service as chat_service
from app.chat.conversations import ensure_care_conversation
from app.chat.runtime import ChatRuntime
from app.chat.schemas import MessageCreate
from app.config import Settings
from app.models import Role
from app.realtime.hub import InProcessHub
from tests.chat.conftest import events_of, send_text
from tests.fixtures import factories


async def test_unread_counts_and_badge_agree_across_two_devices(client, chat, online) -> None:
    tablet_events = await online(chat.patient.id)
    for _ in range(3):
        await send_text(client, chat, chat.doctor_app)
    unread = (await client.get("/api/v1/chat/unread", headers=chat.patient_phone)).json()
    assert unread == {"total_unread": 3, "conversations": {str(chat.conversation_id): 3}}

    read = await client.post(chat.url("/read"), headers=chat.patient_phone, json={"up_to_seq": 2})
    assert read.json()["unread"] == 1 and read.json()["total_unread"] == 1

    on_tablet = (await client.get("/api/v1/chat/conversations", headers=chat.patient_tablet)).json()
    assert on_tablet["total_unread"] == 1 and on_tablet["items"][0]["unread"] == 1
    # The tablet hears of the phone's read at once, with its new badge.
    (own,) = events_of(tablet_events, "chat.read")
    assert own["read_seq"] == 2 and own["total_unread"] == 1


async def test_sender_sees_the_read_receipt(client, chat, online) -> None:
    doctor_events = await online(chat.doctor.id)
    await send_text(client, chat, chat.doctor_app, "记得测血糖")
    await client.post(chat.url("/read"), headers=chat.patient_phone, json={"up_to_seq": 1})
    (receipt,) = events_of(doctor_events, "chat.read")
    assert receipt == {
        "type": "chat.read",
        "conversation_id": str(chat.conversation_id),
        "account_id": str(chat.patient.id),
        "read_seq": 1,
    }
    detail = (await client.get(chat.url(), headers=chat.doctor_app)).json()
    read_seqs = {p["account_id"]: p["read_seq"] for p in detail["participants"]}
    assert read_seqs == {str(chat.patient.id): 1, str(chat.doctor.id): 1}


async def test_read_up_to_never_moves_back_nor_past_the_last_message(client, chat) -> None:
    for _ in range(2):
        await send_text(client, chat, chat.doctor_app)
    ahead = await client.post(chat.url("/read"), headers=chat.patient_phone, json={"up_to_seq": 9})
    assert ahead.json()["read_seq"] == 2
    back = await client.post(chat.url("/read"), headers=chat.patient_tablet, json={"up_to_seq": 1})
    assert back.json()["read_seq"] == 2 and back.json()["unread"] == 0


async def test_own_messages_never_count_as_unread(client, chat) -> None:
    await send_text(client, chat, chat.doctor_app)
    await send_text(client, chat, chat.patient_phone)
    assert (await client.get("/api/v1/chat/unread", headers=chat.patient_tablet)).json()[
        "total_unread"
    ] == 0


# A step: (who, action, amount) - who 0 = patient, 1 = doctor; "send" or "read" up to last-amount.
STEPS = st.lists(
    st.tuples(st.sampled_from([0, 1]), st.sampled_from(["send", "read"]), st.integers(0, 3)),
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
async def test_any_interleaving_keeps_unread_equal_to_messages_after_read_point(
    db_session, steps
) -> None:
    patient = await factories.account(db_session, Role.patient)
    doctor = await factories.account(db_session, Role.doctor)
    care = await factories.care(
        db_session,
        await factories.patient_of(db_session, patient),
        await factories.doctor_of(db_session, doctor),
    )
    conversation = await ensure_care_conversation(db_session, care.id)
    people = [_principal(patient.id, Role.patient), _principal(doctor.id, Role.doctor)]
    runtime = ChatRuntime(_lenient_settings(), InProcessHub())
    # The model: who sent each message, and how far each person has read.
    senders: list[int] = []
    read_point = [0, 0]
    for who, action, back in steps:
        if action == "send":
            draft = MessageCreate(client_msg_id=uuid.uuid4().hex, text="x")
            await chat_sending.send_message(
                db_session, runtime, people[who], conversation.id, draft
            )
            senders.append(who)
            read_point[who] = len(senders)
        else:
            target = max(len(senders) - back, 0)
            await chat_service.mark_read(db_session, runtime, people[who], conversation.id, target)
            read_point[who] = max(read_point[who], target)
        for person in (0, 1):
            expected = len(senders[read_point[person] :])
            counts = await chat_service.unread_counts(db_session, people[person])
            assert counts.conversations[conversation.id] == expected
            assert all(s != person for s in senders[read_point[person] :])


def _principal(account_id: uuid.UUID, role: Role) -> Principal:
    return Principal(account_id=account_id, session_id=uuid.uuid4(), role=role, display_name="x")


def _lenient_settings() -> Settings:
    return Settings(chat_rate_limit_messages=10_000)
