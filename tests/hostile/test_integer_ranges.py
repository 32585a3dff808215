"""Integers beyond what their column holds are malformed requests (422 problem+json), never a
database error: every integer a request carries is bounded in the API description, and the
values that used to reach SQL unchecked are refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest

from app.chat import socket as chat_socket
from app.chat.errors import Invalid
from app.kit.bounded import INT32_MAX, INT64_MAX, INT64_MIN
from app.kit.pagination import encode_cursor
from app.main import create_app
from app.models import Role
from tests.chat.conftest import chat
from tests.fixtures import factories

__all__ = ["chat"]

TWENTY_DIGITS = "9" * 20


def _integer_schemas(
    schema: Any, where: str, components: dict[str, Any], seen: frozenset[str] = frozenset()
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer schema reachable from `schema` (through $ref, unions, objects, arrays)."""
    if not isinstance(schema, dict):
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _integer_schemas(
                components[name], f"{where}>{name}", components, seen | {name}
            )
        return
    if schema.get("type") == "integer":
        yield where, schema
    for union in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(union, []):
            yield from _integer_schemas(option, where, components, seen)
    for name, member in schema.get("properties", {}).items():
        yield from _integer_schemas(member, f"{where}.{name}", components, seen)
    for nested in ("items", "additionalProperties"):
        if isinstance(schema.get(nested), dict):
            yield from _integer_schemas(schema[nested], f"{where}[]", components, seen)


def _request_integers(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    components = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                yield from _integer_schemas(parameter.get("schema"), where, components)
            for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
                where = f"{method.upper()} {path} body({media_type})"
                yield from _integer_schemas(content.get("schema"), where, components)


def test_every_integer_a_request_carries_is_bounded_within_a_bigint(settings) -> None:
    document = create_app(settings).openapi()
    integers = list(_request_integers(document))
    assert len(integers) > 20  # the walk reaches parameters and nested bodies
    unbounded = []
    for where, schema in integers:
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        # (pydantic writes some bounds as floats: 2**63 - 1 then reads 9.223372036854776e18)
        if (
            low is None
            or high is None
            or float(low) < float(INT64_MIN)
            or float(high) > float(INT64_MAX)
        ):
            unbounded.append(where)
    assert unbounded == []


def _refused(response, code: str = "validation_failed") -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


@pytest.mark.parametrize("year", ["3000000000", TWENTY_DIGITS, "-1", "1066"])
async def test_a_benefit_rule_year_out_of_range_is_422(client, db_session, settings, year) -> None:
    bureau = await factories.bearer(
        db_session, settings, await factories.account(db_session, Role.bureau)
    )
    _refused(await client.get(f"/api/v1/insurance/benefit-rules?year={year}", headers=bureau))


@pytest.mark.parametrize("before_id", [TWENTY_DIGITS, str(INT64_MAX + 1), "-1"])
async def test_an_access_log_cursor_out_of_range_is_422(client, patient_headers, before_id) -> None:
    cursor = encode_cursor((int(before_id),))
    response = await client.get(
        f"/api/v1/patients/me/access-log?cursor={cursor}", headers=patient_headers
    )
    _refused(response, "invalid_cursor")


@pytest.mark.parametrize("seq", [str(INT32_MAX + 1), TWENTY_DIGITS])
async def test_chat_sequence_numbers_out_of_range_are_422(client, chat, seq) -> None:
    url, headers = chat.url(), chat.patient_phone
    cursor = encode_cursor(("before", int(seq)))
    _refused(await client.get(f"{url}/messages?cursor={cursor}", headers=headers), "invalid_cursor")
    _refused(await client.get(f"{url}/messages?after_seq={seq}", headers=headers))
    _refused(await client.post(f"{url}/messages/{seq}/recall", headers=headers))
    _refused(await client.post(f"{url}/read", json={"up_to_seq": int(seq)}, headers=headers))
    conversation_id = url.rsplit("/", 1)[1]
    _refused(
        await client.post(
            "/api/v1/chat/sync", json={"since": {conversation_id: int(seq)}}, headers=headers
        )
    )


async def test_a_sync_cursor_of_an_unknown_conversation_is_still_bounded(
    client, patient_headers
) -> None:
    body = {"since": {str(uuid.uuid4()): int(TWENTY_DIGITS)}}
    _refused(await client.post("/api/v1/chat/sync", json=body, headers=patient_headers))


@pytest.mark.parametrize("seq", [INT32_MAX + 1, int(TWENTY_DIGITS), 0, True])
async def test_a_recall_frame_with_a_sequence_out_of_range_is_refused_before_any_sql(
    seq: int,
) -> None:
    frame = {"type": "chat.recall", "conversation_id": str(uuid.uuid4()), "seq": seq}
    with pytest.raises(Invalid):
        # No context: refusing must not need the session (nothing reaches SQL).
        await chat_socket.recall(cast(Any, None), frame)
