"""Hostile request bodies: oversized (declared or streamed), nested too deeply, not JSON. Each is
refused with a clear problem+json and changes nothing."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.kit.clock import utcnow
from app.models import AuditEvent, Device, Patient, Reading
from app.request_bodies import UPLOAD_FRAMING_BYTES, upload_limits
from tests.enrollment import builders
from tests.fixtures import factories
from tests.hostile.conftest import row_counts
from tests.reading.helpers import cgm_item, wearer

APPLICATIONS = "/api/v1/enrollment/applications"
DEVICES = "/api/v1/devices"
PROFILE = "/api/v1/patients/me"
JSON = {"content-type": "application/json"}
DEVICE = {"kind": "cgm", "model": "Dexcom G7", "serial": "SN-HOSTILE"}


def _problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


def _padded_device(size: int) -> bytes:
    """A valid device body padded with whitespace to `size` bytes (JSON allows it)."""
    body = json.dumps(DEVICE).encode()
    return body + b" " * (size - len(body))


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_body_declared_over_the_limit_is_413_and_stores_nothing(
    client, db_session, settings, patient_headers
) -> None:
    before = await row_counts(db_session, Device, AuditEvent)
    body = _padded_device(settings.request_body_max_bytes + 1)
    response = await client.post(DEVICES, content=body, headers={**patient_headers, **JSON})
    _problem(response, 413, "payload_too_large")
    assert response.json()["detail"] == "请求内容过大"
    assert await row_counts(db_session, Device, AuditEvent) == before


async def test_the_refusal_speaks_english_when_asked(client, settings, patient_headers) -> None:
    body = _padded_device(settings.request_body_max_bytes + 1)
    headers = {**patient_headers, **JSON, "Accept-Language": "en"}
    response = await client.post(DEVICES, content=body, headers=headers)
    assert response.json()["detail"] == "The request body is too large"
    assert response.headers["x-request-id"] == response.json()["request_id"]


async def test_a_chunked_body_is_refused_once_it_passes_the_limit(
    client, db_session, settings, patient_headers
) -> None:
    before = await row_counts(db_session, Device, AuditEvent)
    body = _padded_device(settings.request_body_max_bytes * 4)
    # No Content-Length: only counting the streamed bytes can catch it.
    response = await client.post(
        DEVICES, content=_chunks(body), headers={**patient_headers, **JSON}
    )
    _problem(response, 413, "payload_too_large")
    assert await row_counts(db_session, Device, AuditEvent) == before


async def test_a_chunked_body_under_the_limit_is_served(
    client, db_session, patient_headers
) -> None:
    body = _padded_device(10_000)
    response = await client.post(
        DEVICES, content=_chunks(body, 1000), headers={**patient_headers, **JSON}
    )
    assert response.status_code == 201, response.text


async def test_the_largest_legal_reading_batch_fits_under_the_limit(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    start = utcnow() - timedelta(minutes=5 * settings.reading_batch_max_items + 5)
    items = [
        cgm_item(who.cgm, start + timedelta(minutes=5 * i), 6.5, utc_offset_minutes=480)
        for i in range(settings.reading_batch_max_items)
    ]
    body = json.dumps({"items": items}).encode()
    assert len(body) < settings.request_body_max_bytes
    response = await client.post("/api/v1/readings", content=body, headers={**who.headers, **JSON})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == settings.reading_batch_max_items


def test_every_upload_limit_names_a_route_that_takes_files(app, settings) -> None:
    """The limits are keyed by path template: a renamed route must not lose its own limit."""
    routes = {
        context.path_format: context.original_route
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    }
    for template in upload_limits(settings):
        body = routes[template].openapi_extra["requestBody"]["content"]
        if template in JSON_DOCUMENT_UPLOADS:
            # A file that is itself JSON: its FHIR media type is declared beside the JSON one.
            assert "application/fhir+json" in body, template
        else:
            assert "application/json" not in body, template


# Uploads whose file is a JSON document (an ECG strip as a FHIR Observation, with minutes of
# samples); every other route with its own limit takes no JSON.
JSON_DOCUMENT_UPLOADS = {"/api/v1/ecg-strips"}


UPLOADS = {
    "enrollment_record_max_bytes": "/api/v1/enrollment/applications/{id}/records",
    "reading_import_max_bytes": "/api/v1/patients/{id}/readings/import",
    "chat_image_max_bytes": "/api/v1/chat/conversations/{id}/attachments?kind=image",
}


@pytest.mark.parametrize("setting", sorted(UPLOADS))
async def test_an_upload_route_takes_more_than_json_but_not_more_than_its_own_limit(
    client_with, patient_headers, setting
) -> None:
    own = 4096
    # The chat route's body limit is its largest kind's (a file or video may be the biggest).
    chat_kinds = ("chat_voice_max_bytes", "chat_file_max_bytes", "chat_video_max_bytes")
    changes = {"request_body_max_bytes": 1024, **dict.fromkeys(chat_kinds, own), setting: own}
    url = UPLOADS[setting].format(id=uuid.uuid4())
    async with client_with(**changes) as client:
        # Over the JSON limit, within the route's: through to the route (someone else's id).
        passed = await client.post(url, content=b"x" * 2048, headers=patient_headers)
        assert passed.status_code == 404, passed.text
        over = b"x" * (own + UPLOAD_FRAMING_BYTES + 1)
        _problem(
            await client.post(url, content=over, headers=patient_headers), 413, "payload_too_large"
        )


async def test_between_its_own_limit_and_the_body_limit_the_route_answers_itself(
    client_with, db_session, settings
) -> None:
    """The body limit leaves room for the multipart framing, so the route's own, precise check
    (and its own code) answers a file slightly over its limit."""
    await builders.catalogue(db_session)
    patient_account, _ = await builders.patient(db_session)
    _, doctor = await builders.doctor(db_session)
    headers = await factories.bearer(db_session, settings, patient_account)
    application = {"disease_code": "M01603", "institution_id": str(doctor.institution_id)}
    async with client_with(enrollment_record_max_bytes=4096) as client:
        draft = await client.post(APPLICATIONS, json=application, headers=headers)
        response = await client.post(
            f"{APPLICATIONS}/{draft.json()['id']}/records",
            files={"file": ("scan.png", builders.PNG + b"\x00" * 5000, "image/png")},
            headers=headers,
        )
    _problem(response, 413, "record_too_large")


NESTINGS = {
    "arrays": "[" * 10_000 + "]" * 10_000,
    "objects": '{"a":' * 10_000 + "1" + "}" * 10_000,
}


@pytest.mark.parametrize("shape", sorted(NESTINGS))
async def test_json_nested_too_deeply_is_a_clear_400(
    client, db_session, patient_headers, shape
) -> None:
    before = await row_counts(db_session, Device, Patient, AuditEvent)
    for url, method in ((DEVICES, "POST"), (PROFILE, "PATCH"), ("/api/v1/chat/sync", "POST")):
        response = await client.request(
            method, url, content=NESTINGS[shape], headers={**patient_headers, **JSON}
        )
        _problem(response, 400, "malformed_body")
        assert response.json()["detail"] == "请求内容无法解析（格式错误或嵌套过深）"
    assert await row_counts(db_session, Device, Patient, AuditEvent) == before


@pytest.mark.parametrize("shape", sorted(NESTINGS))
async def test_deep_json_to_an_endpoint_that_parses_its_own_body_is_422(
    client, db_session, settings, shape
) -> None:
    who = await wearer(db_session, settings)
    before = await row_counts(db_session, Reading)
    response = await client.post(
        "/api/v1/readings", content=NESTINGS[shape], headers={**who.headers, **JSON}
    )
    _problem(response, 422, "validation_failed")
    assert await row_counts(db_session, Reading) == before


async def test_json_nested_within_the_parser_limit_is_a_validation_error(
    client, patient_headers
) -> None:
    body = {**DEVICE, "model": json.loads("[" * 500 + "]" * 500)}
    response = await client.post(DEVICES, json=body, headers=patient_headers)
    _problem(response, 422, "validation_failed")


NOT_JSON = {
    "text/plain": json.dumps(DEVICE),
    "application/x-www-form-urlencoded": "kind=cgm&model=Dexcom+G7&serial=SN-1",
    "application/xml": "<device><kind>cgm</kind></device>",
    "multipart/form-data; boundary=x": (
        '--x\r\nContent-Disposition: form-data; name="kind"\r\n\r\ncgm\r\n--x--\r\n'
    ),
}


@pytest.mark.parametrize("content_type", sorted(NOT_JSON))
async def test_a_body_that_is_not_json_is_415(
    client, db_session, patient_headers, content_type
) -> None:
    before = await row_counts(db_session, Device, AuditEvent)
    response = await client.post(
        DEVICES,
        content=NOT_JSON[content_type],
        headers={**patient_headers, "content-type": content_type},
    )
    _problem(response, 415, "unsupported_media_type")
    assert await row_counts(db_session, Device, AuditEvent) == before


async def test_a_body_without_a_content_type_is_415(client, db_session, patient_headers) -> None:
    # Not parsed as JSON (FastAPI's strict content type: no CSRF through simple requests).
    response = await client.post(DEVICES, content=json.dumps(DEVICE), headers=patient_headers)
    _problem(response, 415, "unsupported_media_type")


async def test_an_endpoint_reading_its_own_json_refuses_other_types_alike(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    response = await client.post(
        "/api/v1/readings",
        content=json.dumps({"items": []}),
        headers={**who.headers, "content-type": "text/plain"},
    )
    _problem(response, 415, "unsupported_media_type")


async def test_json_with_a_parameter_or_a_json_suffix_is_still_json(
    client, patient_headers
) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.patch(
            PROFILE,
            content=json.dumps({"name": "王五"}),
            headers={**patient_headers, "content-type": content_type},
        )
        assert response.status_code == 200, (content_type, response.text)
