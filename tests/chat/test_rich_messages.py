"""File, video and location messages: types from the bytes, size and duration limits, file
names kept safely, downloads that never render, and the same recall rule as images."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.chat.attachments import size_limit
from app.kit.downloads import safe_filename
from app.request_bodies import upload_limits
from tests.chat.conftest import use_settings
from tests.chat.media import PDF, TEXT, mp4, xlsx
from tests.chat.test_attachments import PNG

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(client, chat, headers, kind: str, data: bytes, name: str | None = None):
    params = {"kind": kind} | ({"name": name} if name is not None else {})
    return await client.post(
        chat.url("/attachments"),
        params=params,
        headers={**headers, "Content-Type": "application/octet-stream"},
        content=data,
    )


async def send_attachment(client, chat, headers, kind: str, attachment_id: str):
    return await client.post(
        chat.url("/messages"),
        headers=headers,
        json={"client_msg_id": uuid.uuid4().hex, "kind": kind, "attachment_id": attachment_id},
    )


async def test_a_file_keeps_its_name_and_downloads_as_an_attachment(client, chat) -> None:
    uploaded = await upload(client, chat, chat.patient_phone, "file", xlsx(), "../血糖记录.xlsx")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["content_type"] == XLSX_TYPE
    assert uploaded.json()["file_name"] == "血糖记录.xlsx"  # the path part is gone
    attachment_id = uploaded.json()["id"]
    sent = await send_attachment(client, chat, chat.patient_phone, "file", attachment_id)
    assert sent.status_code == 201
    assert sent.json()["body"]["file_name"] == "血糖记录.xlsx"
    fetched = await client.get(f"/api/v1/chat/attachments/{attachment_id}", headers=chat.doctor_app)
    assert fetched.status_code == 200 and fetched.content[:2] == b"PK"
    assert fetched.headers["content-type"] == XLSX_TYPE
    assert fetched.headers["x-content-type-options"] == "nosniff"
    disposition = fetched.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "%E8%A1%80%E7%B3%96" in disposition
    stranger = await client.get(f"/api/v1/chat/attachments/{attachment_id}", headers=chat.outsider)
    assert stranger.status_code == 404


async def test_pdf_and_text_files_are_accepted_with_a_default_name(client, chat) -> None:
    pdf = await upload(client, chat, chat.patient_phone, "file", PDF)
    assert pdf.status_code == 201
    assert (pdf.json()["content_type"], pdf.json()["file_name"]) == ("application/pdf", "file.pdf")
    text = await upload(client, chat, chat.patient_phone, "file", TEXT, "  \x00\x1b ")
    assert text.status_code == 201
    assert text.json()["content_type"] == "text/plain; charset=utf-8"
    assert text.json()["file_name"] == "file.txt"


async def test_files_that_are_not_documents_are_415_whatever_they_are_called(client, chat) -> None:
    for data in (b"MZ\x90\x00" + b"\x00" * 60, b"PK\x03\x04" + b"\x00" * 60, b"\x00\x01binary"):
        refused = await upload(client, chat, chat.patient_phone, "file", data, "report.pdf")
        assert refused.status_code == 415, data
        assert refused.json()["code"] == "chat_attachment_type_unsupported"
    # An image is an image message, not a file; a document is no video.
    assert (await upload(client, chat, chat.patient_phone, "file", PNG)).status_code == 415
    assert (await upload(client, chat, chat.patient_phone, "video", PDF)).status_code == 415


async def test_file_over_its_limit_is_413(client, chat, app) -> None:
    use_settings(app, chat_file_max_bytes=len(PDF) - 1)
    response = await upload(client, chat, chat.patient_phone, "file", PDF)
    assert response.status_code == 413 and response.json()["code"] == "chat_attachment_too_large"
    # The image limit is not the file limit.
    assert (await upload(client, chat, chat.patient_phone, "image", PNG)).status_code == 201


async def test_video_duration_is_read_from_its_header(client, chat) -> None:
    uploaded = await upload(client, chat, chat.patient_phone, "video", mp4(12.5))
    assert uploaded.status_code == 201
    assert uploaded.json()["content_type"] == "video/mp4"
    assert uploaded.json()["duration_ms"] == 12_500
    sent = await send_attachment(client, chat, chat.patient_phone, "video", uploaded.json()["id"])
    assert sent.status_code == 201 and sent.json()["body"]["duration_ms"] == 12_500
    quicktime = await upload(client, chat, chat.patient_phone, "video", mp4(3, brand=b"qt  "))
    assert quicktime.status_code == 201 and quicktime.json()["duration_ms"] == 3000


async def test_video_too_long_or_too_big_or_without_a_header_is_refused(client, chat, app) -> None:
    use_settings(app, chat_video_max_seconds=10.0)
    too_long = await upload(client, chat, chat.patient_phone, "video", mp4(10.5))
    assert too_long.status_code == 413 and too_long.json()["code"] == "chat_video_too_long"
    assert "10" in too_long.json()["detail"]
    headless = mp4(5)[: mp4(5).index(b"moov") - 4]  # the ftyp box alone
    assert (await upload(client, chat, chat.patient_phone, "video", headless)).status_code == 415
    use_settings(app, chat_video_max_bytes=64)
    too_big = await upload(client, chat, chat.patient_phone, "video", mp4(5))
    assert too_big.status_code == 413 and too_big.json()["code"] == "chat_attachment_too_large"


async def test_a_file_must_go_out_as_a_file_message(client, chat) -> None:
    uploaded = await upload(client, chat, chat.patient_phone, "file", PDF)
    as_image = await send_attachment(
        client, chat, chat.patient_phone, "image", uploaded.json()["id"]
    )
    assert as_image.status_code == 404
    assert as_image.json()["code"] == "chat_attachment_not_found"


async def test_recalled_file_cannot_be_downloaded_any_more(client, chat) -> None:
    attachment_id = (await upload(client, chat, chat.patient_phone, "file", PDF)).json()["id"]
    await send_attachment(client, chat, chat.patient_phone, "file", attachment_id)
    recalled = await client.post(chat.url("/messages/1/recall"), headers=chat.patient_phone)
    assert recalled.status_code == 200
    fetched = await client.get(f"/api/v1/chat/attachments/{attachment_id}", headers=chat.doctor_app)
    assert fetched.status_code == 404
    history = (await client.get(chat.url("/messages"), headers=chat.doctor_app)).json()["items"]
    assert history[0]["recalled"] is True and history[0]["body"] is None


async def test_location_message_carries_gcj02_coordinates_and_names(client, chat) -> None:
    place = {
        "latitude": 37.857014,
        "longitude": 113.583285,
        "name": "阳泉市第一人民医院",
        "address": "山西省阳泉市城区北大街 1 号",
    }
    sent = await client.post(
        chat.url("/messages"),
        headers=chat.patient_phone,
        json={"client_msg_id": "loc-1", "kind": "location", "location": place},
    )
    assert sent.status_code == 201 and sent.json()["body"] == place
    read = (await client.get(chat.url("/messages"), headers=chat.doctor_app)).json()["items"]
    assert read[-1]["kind"] == "location" and read[-1]["body"] == place


async def test_location_out_of_range_or_too_long_is_422_and_stores_nothing(client, chat) -> None:
    bad_places = [
        {"latitude": 90.5, "longitude": 113.5},
        {"latitude": 37.8, "longitude": -180.01},
        {"latitude": 37.8, "longitude": 113.5, "name": "院" * 65},
        {"latitude": 37.8, "longitude": 113.5, "address": "街" * 129},
        {"latitude": 37.8},
    ]
    for n, place in enumerate(bad_places):
        response = await client.post(
            chat.url("/messages"),
            headers=chat.patient_phone,
            json={"client_msg_id": f"bad-{n}", "kind": "location", "location": place},
        )
        assert response.status_code == 422, place
    # A location message carries a location and nothing else.
    mixed = await client.post(
        chat.url("/messages"),
        headers=chat.patient_phone,
        json={"client_msg_id": "mixed", "kind": "location", "text": "here"},
    )
    assert mixed.status_code == 422
    page = (await client.get(chat.url("/messages"), headers=chat.doctor_app)).json()
    assert page["items"] == []


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_kept_file_names_are_plain_and_short(name: str) -> None:
    kept = safe_filename(name, "file.pdf")
    assert 0 < len(kept) <= 128
    assert "/" not in kept and "\\" not in kept
    assert all(ord(c) >= 0x20 and c != "\x7f" for c in kept)


async def test_a_file_larger_than_the_image_limit_passes_the_body_limit(client, chat) -> None:
    # 12 MB: over the 10 MB image limit, within the 20 MB file limit.
    big = TEXT * (12 * 1024 * 1024 // len(TEXT))
    response = await upload(client, chat, chat.patient_phone, "file", big, "血糖记录.txt")
    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == len(big)


async def test_the_body_limit_of_attachments_admits_every_kind_at_its_own_limit(app) -> None:
    settings = app.state.settings
    limit = upload_limits(settings)["/api/v1/chat/conversations/{conversation_id}/attachments"]
    for kind in ("image", "voice", "file", "video"):
        assert limit >= size_limit(settings, kind), kind
