"""Whom each conversation is with: the counterpart's display name in the list and the detail,
and the patient's registered name for the doctor caring for them (never for anyone else)."""

from __future__ import annotations

from sqlalchemy import select

from app.models import AuditEvent, Patient, Role
from tests.chat.conftest import Chat, send_text
from tests.fixtures import factories


async def _name_patient(db_session, chat: Chat, display: str, name: str | None) -> None:
    chat.patient.display_name = display
    patient = await db_session.get(Patient, chat.patient_id)
    patient.name = name
    await db_session.flush()


async def test_the_doctors_list_shows_the_patients_names(client, chat, db_session) -> None:
    await _name_patient(db_session, chat, "微信用户", "王海军")
    listed = await client.get("/api/v1/chat/conversations", headers=chat.doctor_app)
    (item,) = listed.json()["items"]
    assert item["counterpart"] == {
        "account_id": str(chat.patient.id),
        "role": "patient",
        "display_name": "微信用户",
        "real_name": "王海军",
    }


async def test_the_doctors_conversation_detail_shows_the_patients_names(
    client, chat, db_session
) -> None:
    await _name_patient(db_session, chat, "海军", "王海军")
    detail = (await client.get(chat.url(), headers=chat.doctor_app)).json()
    assert detail["counterpart"]["display_name"] == "海军"
    assert detail["counterpart"]["real_name"] == "王海军"


async def test_the_patient_sees_the_doctors_display_name_and_no_real_names(
    client, chat, db_session
) -> None:
    chat.doctor.display_name = "张医生"
    await _name_patient(db_session, chat, "海军", "王海军")
    (item,) = (await client.get("/api/v1/chat/conversations", headers=chat.patient_phone)).json()[
        "items"
    ]
    assert item["counterpart"] == {
        "account_id": str(chat.doctor.id),
        "role": "doctor",
        "display_name": "张医生",
        "real_name": None,
    }
    assert "王海军" not in str(item)


async def test_a_patient_without_a_registered_name_has_none(client, chat, db_session) -> None:
    await _name_patient(db_session, chat, "微信用户", None)
    (item,) = (await client.get("/api/v1/chat/conversations", headers=chat.doctor_app)).json()[
        "items"
    ]
    assert item["counterpart"]["real_name"] is None
    assert item["counterpart"]["display_name"] == "微信用户"


async def test_a_doctor_in_a_team_group_sees_no_patient_names(client, chat, db_session) -> None:
    from app.chat.conversations import ensure_team_conversation

    colleague = await factories.account(db_session, Role.doctor)
    team = await ensure_team_conversation(
        db_session, colleague.id, [chat.doctor.id, colleague.id], "内分泌家庭医生团队"
    )
    listed = (await client.get("/api/v1/chat/conversations", headers=chat.doctor_app)).json()
    group = next(i for i in listed["items"] if i["id"] == str(team.id))
    assert group["counterpart"] is None and group["title"] == "内分泌家庭医生团队"


async def _audited(db_session, chat: Chat) -> list[tuple[str | None, object]]:
    events = await db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.actor_account_id == chat.doctor.id)
        .order_by(AuditEvent.id)
    )
    return [(e.resource_id, e.patient_id) for e in events]


async def test_showing_a_patients_name_in_the_list_is_audited(client, chat, db_session) -> None:
    await _name_patient(db_session, chat, "微信用户", "王海军")
    await client.get("/api/v1/chat/conversations", headers=chat.doctor_app)
    read = (str(chat.conversation_id), chat.patient_id)
    assert await _audited(db_session, chat) == [read]
    # A conversation whose last message the list also shows is still one event per read.
    await send_text(client, chat, chat.patient_phone)
    await client.get("/api/v1/chat/conversations", headers=chat.doctor_app)
    assert await _audited(db_session, chat) == [read, read]


async def test_a_patient_who_names_themselves_in_the_profile_is_no_longer_weixin_user(
    client, chat, db_session
) -> None:
    # A new mini-program account is "微信用户" (WeChat gives no nickname any more); the profile
    # page's nickname replaces it wherever the patient is shown.
    await _name_patient(db_session, chat, "微信用户", None)
    profile = await client.put(
        "/api/v1/patients/me",
        headers=chat.patient_phone,
        json={"display_name": "秀兰", "name": "王秀兰"},
    )
    assert profile.status_code == 200, profile.text
    (item,) = (await client.get("/api/v1/chat/conversations", headers=chat.doctor_app)).json()[
        "items"
    ]
    assert (item["counterpart"]["display_name"], item["counterpart"]["real_name"]) == (
        "秀兰",
        "王秀兰",
    )
    me = (await client.get("/api/v1/auth/me", headers=chat.patient_phone)).json()
    assert me["display_name"] == "秀兰"
