"""One pagination style: every GET list answers `{"items", "next"}` and takes `cursor`/`limit`.

Read from the app's own OpenAPI document (not the committed copy), so a new list endpoint that
returns a bare array or another cursor style fails here. Nightscout's API is exempt: its clients
expect Nightscout's own array shapes.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.config import Settings
from app.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.main import create_app
from app.openapi_contract import NIGHTSCOUT


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _is_array(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    schema = _resolve(document, schema)
    options = schema.get("anyOf", [schema])
    return any(_resolve(document, o).get("type") == "array" for o in options)


def _list_operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict]]:
    """(path, operation, 200 schema) of every GET answering a list: a bare array, or an object
    with an `items` array on a collection path (not `/{id}`, whose `items` are an object's
    parts)."""
    found = []
    for path, operations in document["paths"].items():
        operation = operations.get("get")
        if operation is None or operation.get("x-clients") == [NIGHTSCOUT]:
            continue
        content = operation["responses"].get("200", {}).get("content", {})
        if "application/json" not in content:
            continue
        schema = _resolve(document, content["application/json"]["schema"])
        items = schema.get("properties", {}).get("items")
        if schema.get("type") == "array" or (
            items is not None and _is_array(document, items) and not path.endswith("}")
        ):
            found.append((path, operation, schema))
    return found


def test_the_list_operations_are_found(document) -> None:
    paths = {path for path, _, _ in _list_operations(document)}
    # A sample of each former style: bare arrays, before/after_id/before_seq cursors, none.
    assert {
        "/api/v1/districts",
        "/api/v1/devices",
        "/api/v1/alerts",
        "/api/v1/patients",
        "/api/v1/patients/me/access-log",
        "/api/v1/chat/conversations/{conversation_id}/messages",
        "/api/v1/orders",
    } <= paths
    assert not any(p.startswith("/api/v1/entries") for p in paths)


def test_every_list_answers_the_page_envelope(document) -> None:
    wrong = []
    for path, _, schema in _list_operations(document):
        properties = schema.get("properties", {})
        nxt = properties.get("next", {})
        if not (
            schema.get("type") == "object"
            and _is_array(document, properties.get("items", {}))
            and {o.get("type") for o in nxt.get("anyOf", [nxt])} == {"string", "null"}
            and {"items", "next"} <= set(schema.get("required", []))
        ):
            wrong.append(path)
    assert wrong == []


def test_every_list_takes_cursor_and_limit(document) -> None:
    wrong = []
    for path, operation, _ in _list_operations(document):
        query = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
        limit = query.get("limit", {}).get("schema", {})
        cursor = query.get("cursor", {}).get("schema", {})
        if not (
            {o.get("type") for o in cursor.get("anyOf", [cursor])} == {"string", "null"}
            and limit.get("type") == "integer"
            and limit.get("minimum") == 1
            and limit.get("default") is not None
            and limit.get("maximum") is not None
        ):
            wrong.append(path)
        # No other cursor style survives next to it.
        if set(query) & {"before", "before_id", "after_id", "before_seq", "offset", "page"}:
            wrong.append(path)
    assert wrong == []


def test_the_style_is_documented(document) -> None:
    description = document["info"]["description"]
    assert "cursor" in description and "next" in description
    assert f"default {DEFAULT_LIMIT}" in description and f"at most {MAX_LIMIT}" in description
