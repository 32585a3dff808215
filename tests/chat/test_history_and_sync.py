"""History pages backwards; sync catches up from per-conversation cursors; reads are audited."""

from __future__ import annotations

from sqlalchemy import select

from app.kit.pagination import encode_cursor
from app.models import AuditEvent
from tests.chat.conftest import send_text


async def _send(client, chat, count: int) -> None:
    for n in range(count):
        headers = chat.doctor_app if n % 2 else chat.patient_phone
        assert (await send_text(client, chat, headers, f"m{n + 1}")).status_code == 201


async def test_history_pages_backwards_without_overlap(client, chat) -> None:
    await _send(client, chat, 7)
    pages, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (
            await client.get(chat.url("/messages"), headers=chat.doctor_app, params=params)
        ).json()
        pages.append([m["seq"] for m in page["items"]])
        if page["next"] is None:
            break
        cursor = page["next"]
    assert pages == [[5, 6, 7], [2, 3, 4], [1]]


async def test_forward_paging_after_a_seq(client, chat) -> None:
    await _send(client, chat, 5)
    page = (
        await client.get(chat.url("/messages"), headers=chat.patient_phone, params={"after_seq": 2})
    ).json()
    assert [m["seq"] for m in page["items"]] == [3, 4, 5] and page["next"] is None


async def test_forward_pages_continue_forwards(client, chat) -> None:
    await _send(client, chat, 5)
    params = {"after_seq": 1, "limit": 2}
    first = (
        await client.get(chat.url("/messages"), headers=chat.patient_phone, params=params)
    ).json()
    params = {"after_seq": 1, "limit": 2, "cursor": first["next"]}
    second = (
        await client.get(chat.url("/messages"), headers=chat.patient_phone, params=params)
    ).json()
    assert [m["seq"] for m in first["items"] + second["items"]] == [2, 3, 4, 5]


async def test_a_cursor_of_another_direction_is_malformed(client, chat) -> None:
    params = {"cursor": encode_cursor(("sideways", 3))}
    response = await client.get(chat.url("/messages"), headers=chat.doctor_app, params=params)
    assert (response.status_code, response.json()["code"]) == (422, "invalid_cursor")


async def test_sync_returns_exactly_what_follows_each_cursor(client, chat) -> None:
    await _send(client, chat, 4)
    since = {str(chat.conversation_id): 2}
    synced = (
        await client.post("/api/v1/chat/sync", headers=chat.patient_tablet, json={"since": since})
    ).json()
    (entry,) = synced["conversations"]
    assert [m["seq"] for m in entry["messages"]] == [3, 4]
    assert entry["conversation"]["last_seq"] == 4
    # No cursor = from the start; a cursor at the end = nothing to send.
    fresh = (await client.post("/api/v1/chat/sync", headers=chat.doctor_app, json={})).json()
    assert [m["seq"] for m in fresh["conversations"][0]["messages"]] == [1, 2, 3, 4]
    done = await client.post(
        "/api/v1/chat/sync", headers=chat.doctor_app, json={"since": {str(chat.conversation_id): 4}}
    )
    assert done.json()["conversations"][0]["messages"] == []


async def test_sync_pages_when_more_than_the_limit(client, chat) -> None:
    await _send(client, chat, 5)
    body = {"since": {}, "limit": 2}
    first = (await client.post("/api/v1/chat/sync", headers=chat.doctor_app, json=body)).json()
    entry = first["conversations"][0]
    assert [m["seq"] for m in entry["messages"]] == [1, 2] and entry["has_more"] is True


async def test_reading_messages_records_one_audit_event_per_conversation(
    client, chat, db_session
) -> None:
    await _send(client, chat, 6)
    await client.get(chat.url("/messages"), headers=chat.doctor_app)
    events = (
        await db_session.scalars(
            select(AuditEvent).where(
                AuditEvent.resource_type == "chat_conversation",
                AuditEvent.actor_account_id == chat.doctor.id,
            )
        )
    ).all()
    assert len(events) == 1
    assert events[0].resource_id == str(chat.conversation_id)
    patient_ids = {e.patient_id for e in events}
    assert None not in patient_ids
