"""The one page style: opaque cursors, keyset resumption, and the errors of a bad cursor."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from app.kit.clock import utcnow
from app.kit.pagination import InvalidCursor, decode_cursor, encode_cursor
from app.models import Role
from tests.fixtures import factories
from tests.reading.helpers import cgm_item, upload, wearer
from tests.reference.test_reference_data import DRUG


def test_a_cursor_carries_its_sort_key() -> None:
    key = (datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC), uuid.uuid4(), 42, "编码")
    cursor = encode_cursor(key)
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor  # URL-safe as is
    assert decode_cursor(cursor, datetime, uuid.UUID, int, str) == key


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"{}").decode(),  # not a key
        encode_cursor(("a", "b")),  # wrong length
        encode_cursor(("2026-12-07T01:02:03",)),  # a time without its offset
        encode_cursor(("nope",)),
    ],
)
def test_a_cursor_that_is_not_ours_is_refused(cursor) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, datetime)


def test_an_integer_key_refuses_other_types() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(("7",)), int)
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor((True,)), int)


async def _walk(client, url, headers, params) -> list[dict]:
    pages: list[dict] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, headers=headers, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) >= {"items", "next"}
        pages.append(body)
        cursor = body["next"]
        if cursor is None:
            return pages
        assert len(pages) < 20


async def test_pages_of_a_list_held_in_memory_cover_it_once_in_order(
    client, db_session, settings
) -> None:
    admin = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.admin)
    )
    codes = [DRUG["national_code"][:-1] + str(i) for i in range(5)]
    for code in reversed(codes):
        created = await client.post(
            "/api/v1/drugs", headers=admin, json={**DRUG, "national_code": code}
        )
        assert created.status_code == 201
    pages = await _walk(client, "/api/v1/drugs", admin, {"q": "双胍", "limit": 2})
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert [d["national_code"] for p in pages for d in p["items"]] == codes


async def test_pages_of_a_database_list_resume_after_the_last_item(
    client, db_session, settings
) -> None:
    who = await wearer(db_session, settings)
    now = utcnow()
    times = [now - timedelta(minutes=5 * i) for i in range(1, 8)]
    await upload(client, who.headers, [cgm_item(who.cgm, t, 6.0) for t in times])
    url = f"/api/v1/patients/{who.patient.id}/readings"
    first = (await client.get(url, headers=who.headers, params={"limit": 3})).json()
    # A newer reading arrives between two requests: the next page neither repeats nor skips.
    await upload(client, who.headers, [cgm_item(who.cgm, now, 6.5)])
    rest = await _walk(client, url, who.headers, {"limit": 3, "cursor": first["next"]})
    seen = [r["measured_at"] for p in [first, *rest] for r in p["items"]]
    assert [datetime.fromisoformat(s) for s in seen] == times
    assert [len(p["items"]) for p in [first, *rest]] == [3, 3, 1]


async def test_a_bad_cursor_is_422_invalid_cursor_in_chinese(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    url = f"/api/v1/patients/{who.patient.id}/readings"
    response = await client.get(url, headers=who.headers, params={"cursor": "garbage!"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_cursor"
    assert response.json()["detail"] == "分页游标无效，请从第一页重新获取"
    english = {**who.headers, "Accept-Language": "en"}
    response = await client.get(url, headers=english, params={"cursor": "garbage!"})
    assert response.json()["detail"].startswith("The page cursor is invalid")


async def test_a_cursor_of_another_shape_is_refused(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    url = f"/api/v1/patients/{who.patient.id}/readings"
    # A patients-list cursor (an id) handed to the readings list (a time).
    cursor = encode_cursor((uuid.uuid4(),))
    response = await client.get(url, headers=who.headers, params={"cursor": cursor})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_cursor")


async def test_limit_has_a_maximum(client, db_session, settings) -> None:
    who = await wearer(db_session, settings)
    assert (await client.get("/api/v1/devices", headers=who.headers)).json()["next"] is None
    response = await client.get("/api/v1/devices", headers=who.headers, params={"limit": 201})
    assert response.status_code == 422
    assert (
        await client.get("/api/v1/devices", headers=who.headers, params={"limit": 200})
    ).is_success
