"""Attachments: type from the bytes, size and voice-duration limits, participants only."""

from __future__ import annotations

import struct

from tests.chat.conftest import use_settings
from tests.fixtures.wx import wx_upload_file

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A mono 8-bit PCM WAV of `seconds` of silence."""
    data = b"\x80" * int(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + len(data)) + b"WAVE" + chunks + data


def amr(frames: int) -> bytes:
    """AMR-NB at 12.2 kbit/s (frame type 7: 31 bytes after the header byte)."""
    return b"#!AMR\n" + (bytes([7 << 3 | 0x04]) + b"\x00" * 31) * frames


async def _upload(client, chat, headers, kind: str, data: bytes, content_type: str):
    return await client.post(
        chat.url("/attachments"),
        params={"kind": kind},
        headers={**headers, "Content-Type": content_type},
        content=data,
    )


async def test_image_is_sent_and_fetched_by_the_other_participant(client, chat) -> None:
    uploaded = await _upload(client, chat, chat.patient_phone, "image", PNG, "image/jpeg")
    assert uploaded.status_code == 201
    # The bytes decide, not the declared type.
    assert uploaded.json()["content_type"] == "image/png"
    attachment_id = uploaded.json()["id"]
    sent = await client.post(
        chat.url("/messages"),
        headers=chat.patient_phone,
        json={"client_msg_id": "img-1", "kind": "image", "attachment_id": attachment_id},
    )
    assert sent.status_code == 201 and sent.json()["body"]["attachment_id"] == attachment_id
    fetched = await client.get(f"/api/v1/chat/attachments/{attachment_id}", headers=chat.doctor_app)
    assert fetched.status_code == 200 and fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"
    stranger = await client.get(f"/api/v1/chat/attachments/{attachment_id}", headers=chat.outsider)
    assert stranger.status_code == 404


async def test_recalled_image_cannot_be_fetched_any_more(client, chat) -> None:
    attachment_id = (
        await _upload(client, chat, chat.patient_phone, "image", PNG, "image/png")
    ).json()["id"]
    await client.post(
        chat.url("/messages"),
        headers=chat.patient_phone,
        json={"client_msg_id": "img-2", "kind": "image", "attachment_id": attachment_id},
    )
    await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    fetched = await client.get(f"/api/v1/chat/attachments/{attachment_id}", headers=chat.doctor_app)
    assert fetched.status_code == 404


async def test_bytes_that_are_not_an_accepted_format_are_415(client, chat) -> None:
    response = await _upload(client, chat, chat.patient_phone, "image", b"<svg/>", "image/png")
    assert response.status_code == 415
    assert response.json()["code"] == "chat_attachment_type_unsupported"
    voice_as_image = await _upload(client, chat, chat.patient_phone, "voice", PNG, "audio/amr")
    assert voice_as_image.status_code == 415


async def test_image_over_the_size_limit_is_413(client, chat, app) -> None:
    use_settings(app, chat_image_max_bytes=32)
    response = await _upload(client, chat, chat.patient_phone, "image", PNG, "image/png")
    assert response.status_code == 413 and response.json()["code"] == "chat_attachment_too_large"


async def test_voice_duration_is_read_from_the_file_and_limited(client, chat) -> None:
    ok = await _upload(client, chat, chat.patient_phone, "voice", amr(150), "audio/amr")
    assert ok.status_code == 201 and ok.json()["duration_ms"] == 3000
    wav_ok = await _upload(client, chat, chat.patient_phone, "voice", wav(2.5), "audio/wav")
    assert wav_ok.json()["duration_ms"] == 2500
    too_long = await _upload(client, chat, chat.patient_phone, "voice", wav(61), "audio/wav")
    assert too_long.status_code == 413 and too_long.json()["code"] == "chat_voice_too_long"


async def test_an_attachment_is_sent_only_by_its_uploader_in_its_conversation(client, chat) -> None:
    attachment_id = (
        await _upload(client, chat, chat.patient_phone, "image", PNG, "image/png")
    ).json()["id"]
    response = await client.post(
        chat.url("/messages"),
        headers=chat.doctor_app,
        json={"client_msg_id": "img-3", "kind": "image", "attachment_id": attachment_id},
    )
    assert response.status_code == 404 and response.json()["code"] == "chat_attachment_not_found"


async def test_the_mini_program_uploads_an_image_with_wx_upload_file(client, chat) -> None:
    # wx.uploadFile can send only multipart/form-data: the image is its `file` part.
    uploaded = await wx_upload_file(
        client,
        chat.url("/attachments"),
        chat.patient_phone,
        PNG,
        "http://tmp/wx3f2c8a1b9e.png",
        "image/png",
        form_data={"client": "miniprogram"},
        params={"kind": "image"},
    )
    assert uploaded.status_code == 201, uploaded.text
    assert (uploaded.json()["content_type"], uploaded.json()["size_bytes"]) == (
        "image/png",
        len(PNG),
    )
    fetched = await client.get(
        f"/api/v1/chat/attachments/{uploaded.json()['id']}", headers=chat.doctor_app
    )
    assert fetched.content == PNG


async def test_a_wx_upload_file_over_the_limit_is_refused(client, chat, app) -> None:
    use_settings(app, chat_image_max_bytes=len(PNG) - 1)
    uploaded = await wx_upload_file(
        client,
        chat.url("/attachments"),
        chat.patient_phone,
        PNG,
        "http://tmp/big.png",
        "image/png",
        params={"kind": "image"},
    )
    assert (uploaded.status_code, uploaded.json()["code"]) == (413, "chat_attachment_too_large")
