"""Chat images and voice are served for download only: never rendered inline from the API."""

from __future__ import annotations

from tests.chat.test_attachments import PNG, _upload


async def test_an_attachment_is_served_as_a_download_that_is_never_sniffed(client, chat) -> None:
    uploaded = await _upload(client, chat, chat.patient_phone, "image", PNG, "image/png")
    attachment_id = uploaded.json()["id"]
    await client.post(
        chat.url("/messages"),
        headers=chat.patient_phone,
        json={"client_msg_id": "dl-1", "kind": "image", "attachment_id": attachment_id},
    )
    fetched = await client.get(f"/api/v1/chat/attachments/{attachment_id}", headers=chat.doctor_app)
    assert fetched.status_code == 200
    assert fetched.headers["content-disposition"] == "attachment"
    assert fetched.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in fetched.headers["content-security-policy"]
