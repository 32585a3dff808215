"""Medical records are served for download only: never rendered inline from the API's origin."""

from __future__ import annotations

from tests.enrollment import builders
from tests.enrollment.test_applications import APPS, _attach, _draft, _setup


async def _download(client, db_session, settings, data: bytes, name: str):
    _, reviewer, patient_h, _ = await _setup(db_session, settings)
    application_id = (await _draft(client, patient_h, reviewer.institution_id)).json()["id"]
    record = (await _attach(client, patient_h, application_id, data, name)).json()
    return await client.get(f"{APPS}/{application_id}/records/{record['id']}", headers=patient_h)


async def test_a_pdf_record_is_an_attachment_that_is_never_sniffed(
    client, db_session, settings
) -> None:
    response = await _download(client, db_session, settings, builders.PDF, "出院小结.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''%E5%87%BA%E9%99%A2%E5%B0%8F%E7%BB%93.pdf"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "private, no-store"


async def test_a_name_with_quotes_and_line_breaks_cannot_break_the_header(
    client, db_session, settings
) -> None:
    name = 'report".png\r\nSet-Cookie: x=1'
    response = await _download(client, db_session, settings, builders.PNG, name)
    assert response.status_code == 200
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; filename*=UTF-8''report")
    assert '"' not in disposition and " " not in disposition.split(";", 1)[1].strip()
    assert "set-cookie" not in response.headers
