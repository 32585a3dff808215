"""Unsent attachments: a per-user quota (count and bytes), and expiry by the periodic job, which
deletes their blobs. Sent attachments are never touched."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.chat.jobs import expire_unsent_attachments
from app.kit.blobstore import BlobNotFound
from app.kit.clock import shifted_by
from app.models import ChatAttachment
from tests.chat.conftest import Chat, use_settings
from tests.chat.live import live_chat
from tests.chat.test_attachments import PNG, _upload
from tests.realtime.clients import User

TTL = 600.0  # under the access token lifetime, so the shifted clock keeps sign-ins valid


async def upload_png(client: httpx.AsyncClient, chat: Chat, size: int = len(PNG)) -> httpx.Response:
    """The patient's phone uploads a PNG of `size` bytes."""
    data = PNG + b"\x00" * (size - len(PNG))
    return await _upload(client, chat, chat.patient_phone, "image", data, "image/png")


async def send_image(client: httpx.AsyncClient, chat: Chat, attachment_id: str) -> httpx.Response:
    """The patient sends an uploaded image."""
    return await client.post(
        chat.url("/messages"),
        headers=chat.patient_phone,
        json={"client_msg_id": uuid.uuid4().hex, "kind": "image", "attachment_id": attachment_id},
    )


async def test_unsent_attachments_past_the_count_quota_are_refused(client, chat, app) -> None:
    use_settings(app, chat_attachment_unsent_max_count=3)
    uploaded = [await upload_png(client, chat) for _ in range(3)]
    assert [r.status_code for r in uploaded] == [201, 201, 201]

    refused = await upload_png(client, chat)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "chat_attachment_quota_exceeded"
    assert problem["unsent_count"] == 3 and "3 个" in problem["detail"]

    # Sending one frees its place.
    assert (await send_image(client, chat, uploaded[0].json()["id"])).status_code == 201
    assert (await upload_png(client, chat)).status_code == 201


async def test_unsent_bytes_past_the_quota_are_refused(client, chat, app) -> None:
    use_settings(app, chat_attachment_unsent_max_bytes=5000)
    assert (await upload_png(client, chat, 2000)).status_code == 201
    assert (await upload_png(client, chat, 2000)).status_code == 201
    refused = await upload_png(client, chat, 2000)
    assert refused.status_code == 409 and refused.json()["unsent_bytes"] == 4000
    assert (await upload_png(client, chat, 900)).status_code == 201


async def test_the_quota_is_the_uploaders_not_the_conversations(client, chat, app) -> None:
    use_settings(app, chat_attachment_unsent_max_count=1)
    assert (await upload_png(client, chat)).status_code == 201
    doctors = await _upload(client, chat, chat.doctor_app, "image", PNG, "image/png")
    assert doctors.status_code == 201
    assert (await upload_png(client, chat)).status_code == 409


async def test_an_unsent_attachment_expires_and_its_blob_is_deleted(
    client, chat, app, db_session
) -> None:
    settings = use_settings(app, chat_attachment_unsent_ttl_seconds=TTL)
    blobs = app.state.blobs
    unsent = (await upload_png(client, chat)).json()["id"]
    sent = (await upload_png(client, chat)).json()["id"]
    assert (await send_image(client, chat, sent)).status_code == 201
    keys = dict(
        (str(a), k)
        for a, k in await db_session.execute(select(ChatAttachment.id, ChatAttachment.blob_key))
    )

    with shifted_by(timedelta(seconds=TTL + 1)):
        # Past its time it can no longer be sent, even before the job has run.
        late = await send_image(client, chat, unsent)
        assert late.status_code == 404 and late.json()["code"] == "chat_attachment_not_found"
        removed = await expire_unsent_attachments(app.state.sessionmaker, blobs, settings)

    assert removed == 1
    with pytest.raises(BlobNotFound):
        await blobs.get(keys[unsent])
    assert await blobs.get(keys[sent]) == PNG
    left = await db_session.scalars(select(ChatAttachment.id))
    assert [str(a) for a in left] == [sent]
    fetched = await client.get(f"/api/v1/chat/attachments/{sent}", headers=chat.doctor_app)
    assert fetched.status_code == 200


async def test_expired_attachments_no_longer_count_against_the_quota(client, chat, app) -> None:
    use_settings(app, chat_attachment_unsent_max_count=2, chat_attachment_unsent_ttl_seconds=TTL)
    for _ in range(2):
        assert (await upload_png(client, chat)).status_code == 201
    assert (await upload_png(client, chat)).status_code == 409
    with shifted_by(timedelta(seconds=TTL + 1)):
        assert (await upload_png(client, chat)).status_code == 201


async def test_a_pass_interrupted_after_claiming_is_finished_by_the_next(
    client, chat, app, db_session
) -> None:
    settings = use_settings(app, chat_attachment_unsent_ttl_seconds=TTL)

    class FailingBlobs:
        async def delete(self, key: str) -> None:
            raise OSError("storage away")

    await upload_png(client, chat)
    with shifted_by(timedelta(seconds=TTL + 1)):
        with pytest.raises(OSError):
            await expire_unsent_attachments(app.state.sessionmaker, FailingBlobs(), settings)
        # Claimed (no longer sendable or fetchable), then finished by the next pass.
        claimed = await db_session.scalar(select(ChatAttachment.expired_at))
        assert claimed is not None
        assert await expire_unsent_attachments(app.state.sessionmaker, app.state.blobs, settings)
    assert await db_session.scalar(select(func.count()).select_from(ChatAttachment)) == 0


@pytest.mark.postgres
async def test_concurrent_uploads_never_exceed_the_quota(
    start_gateway, realtime_db, tmp_path: Path
) -> None:
    chat = await live_chat(realtime_db.sessionmaker, realtime_db.settings)
    settings = {"chat_attachment_unsent_max_count": 3, "blob_dir": str(tmp_path)}
    async with start_gateway(**settings) as gateway:
        base = gateway.url.replace("ws://", "http://", 1).removesuffix("/ws")
        url = f"/api/v1/chat/conversations/{chat.conversation_id}/attachments"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            answers = await asyncio.gather(*[_post(http, url, chat.patient) for _ in range(10)])
    assert sorted(r.status_code for r in answers) == [201] * 3 + [409] * 7
    async with realtime_db.sessionmaker() as session:
        stored = await session.scalar(
            select(func.count()).where(ChatAttachment.uploader_account_id == chat.patient.id)
        )
    assert stored == 3


async def _post(http: httpx.AsyncClient, url: str, user: User) -> httpx.Response:
    return await http.post(
        url,
        params={"kind": "image"},
        content=PNG,
        headers={"Authorization": f"Bearer {user.token}", "Content-Type": "image/png"},
    )
