"""Every example in the published OpenAPI document is valid against its own schema, and the
main flows of the three client teams, the partner callback and the bureau's CSV export carry
examples.

Generators, mock servers and schemathesis take these examples as real payloads, so one that
does not validate misleads all of them. Read from the committed openapi/openapi.json (the
contract the teams generate from); tests/contract checks elsewhere that it matches the app.
Validation uses jsonschema-rs (JSON Schema 2020-12, the dialect of OpenAPI 3.1) with formats
checked, every `$ref` resolved against the document itself. FastAPI drops `None` values when
it writes the document, so an example with a null field loses it (and fails here if required).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import pytest

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
BASE = "urn:openapi-document"
# Maps keyed by names, not schemas: a property called "examples" is not an examples keyword.
_NAME_MAPS = {"properties", "patternProperties", "$defs", "schemas", "paths"}

# (method, path) of the operations whose request bodies must show an example.
MAIN_FLOWS = [
    # patient mini-program
    ("post", "/api/v1/auth/wechat-login"),
    ("put", "/api/v1/patients/me"),
    ("post", "/api/v1/patients/me/identity/declarations"),
    ("post", "/api/v1/readings"),
    # doctor app
    ("post", "/api/v1/prescriptions"),
    ("post", "/api/v1/prescriptions/{prescription_id}/sign"),
    ("post", "/api/v1/chat/conversations/{conversation_id}/messages"),
    ("post", "/api/v1/care/follow-up-plans"),
    # pharmacy dashboard and the partner chain's system
    ("post", "/api/v1/orders"),
    ("post", "/api/v1/payments/settlements/{settlement_id}/hand-over"),
    ("post", "/api/v1/partner/stores/{store_id}/callbacks"),
    ("post", "/api/v1/orders/{order_id}/fail"),
    ("post", "/api/v1/orders/{order_id}/return"),
    ("post", "/api/v1/orders/{order_id}/returned"),
    # insurance bureau
    ("post", "/api/v1/insurance/statements"),
    ("post", "/api/v1/insurance/statements/{statement_id}/payment"),
]

# (method, path, status) of answers that must show an example.
ANSWERS_WITH_EXAMPLES = [
    ("post", "/api/v1/readings", "200"),
    ("post", "/api/v1/partner/stores/{store_id}/callbacks", "200"),
    ("get", "/api/v1/insurance/statements/{statement_id}/export.csv", "200"),
]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


def _pointer(parts: tuple[str, ...]) -> str:
    escaped = (part.replace("~", "~0").replace("/", "~1") for part in parts)
    return quote("".join("/" + part for part in escaped), safe="/~")


def _examples(
    node: Any, parts: tuple[str, ...] = (), in_name_map: bool = False
) -> Iterator[tuple[str, str, Any]]:
    """(where, schema pointer, example) of every example in the document."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _examples(item, (*parts, str(index)))
        return
    if not isinstance(node, dict):
        return
    if not in_name_map:
        here = _pointer(parts)
        if isinstance(node.get("examples"), list):
            # A schema's own examples (JSON Schema `examples`).
            for index, example in enumerate(node["examples"]):
                yield f"{here}/examples/{index}", here, example
        elif "schema" in node:
            # A media type or parameter: `example`, or named Example objects.
            schema = _pointer((*parts, "schema"))
            if "example" in node:
                yield f"{here}/example", schema, node["example"]
            for name, example in (node.get("examples") or {}).items():
                # An Example object, or a reference to one kept in components/examples.
                yield f"{here}/examples/{name}", schema, example.get("value", example)
        elif "example" in node:
            yield f"{here}/example", here, node["example"]
    for key, child in node.items():
        if key in ("examples", "example") and not in_name_map:
            continue
        yield from _examples(child, (*parts, key), key in _NAME_MAPS and not in_name_map)


def _failures(document: dict[str, Any]) -> tuple[int, list[str]]:
    registry = jsonschema_rs.Registry([(BASE, document)], draft=jsonschema_rs.Draft202012)
    checked, failures = 0, []
    for where, pointer, example in _examples(document):
        if isinstance(example, dict) and set(example) == {"$ref"}:
            prefix, name = example["$ref"].rsplit("/", 1)
            assert prefix == "#/components/examples", where
            example = document["components"]["examples"][name]["value"]
        validator = jsonschema_rs.Draft202012Validator(
            {"$ref": f"{BASE}#{pointer}"}, registry=registry, validate_formats=True
        )
        checked += 1
        failures += [f"{where}: {error.message}" for error in validator.iter_errors(example)]
    return checked, failures


def test_every_example_validates_against_its_schema(document: dict[str, Any]) -> None:
    checked, failures = _failures(document)
    assert checked >= len(MAIN_FLOWS)
    assert failures == []


def test_an_example_that_breaks_its_schema_is_reported(document: dict[str, Any]) -> None:
    # The check itself can fail: an amount in yuan (a float) and a naive time are caught.
    broken = json.loads(json.dumps(document))
    schemas = broken["components"]["schemas"]
    schemas["HandOverPayment"]["examples"][0]["amount_fen"] = 38.6
    schemas["PartnerCallbackIn"]["examples"][0]["occurred_at"] = "2026-11-22 10:42"
    _, failures = _failures(broken)
    assert len(failures) == 2
    assert any("HandOverPayment/examples/0" in failure for failure in failures)
    assert any("PartnerCallbackIn/examples/0" in failure for failure in failures)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _has_example(document: dict[str, Any], content: dict[str, Any]) -> bool:
    """Whether a media-type map shows an example, itself or in its (referenced) schema."""
    for media in content.values():
        if "example" in media or media.get("examples"):
            return True
        schema = _resolve(document, media.get("schema", {}))
        for option in [schema, *schema.get("anyOf", [])]:
            if _resolve(document, option).get("examples"):
                return True
    return False


@pytest.mark.parametrize(("method", "path"), MAIN_FLOWS)
def test_main_flow_request_has_an_example(document: dict[str, Any], method: str, path: str) -> None:
    operation = document["paths"][path][method]
    assert _has_example(document, operation.get("requestBody", {}).get("content", {}))


@pytest.mark.parametrize(("method", "path", "status"), ANSWERS_WITH_EXAMPLES)
def test_main_flow_answer_has_an_example(
    document: dict[str, Any], method: str, path: str, status: str
) -> None:
    answer = document["paths"][path][method]["responses"][status]
    assert _has_example(document, answer.get("content", {}))


def test_partner_callback_documents_its_signature_headers(document: dict[str, Any]) -> None:
    operation = document["paths"]["/api/v1/partner/stores/{store_id}/callbacks"]["post"]
    headers = {p["name"]: p for p in operation["parameters"] if p["in"] == "header"}
    assert set(headers) == {"X-Signature", "X-Signature-Timestamp", "Idempotency-Key"}
    assert all(header["required"] and header["description"] for header in headers.values())
    assert "401" in operation["responses"]


def test_statement_csv_export_documents_its_media_type_and_columns(
    document: dict[str, Any],
) -> None:
    from app.insurance.statements import CSV_COLUMNS

    operation = document["paths"]["/api/v1/insurance/statements/{statement_id}/export.csv"]["get"]
    answer = operation["responses"]["200"]
    example = answer["content"]["text/csv"]["example"]
    assert example.splitlines()[0].split(",") == list(CSV_COLUMNS)
    assert all(column in answer["description"] for column in CSV_COLUMNS)
    assert all(len(line.split(",")) == len(CSV_COLUMNS) for line in example.splitlines())
