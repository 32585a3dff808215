"""Every operation in the committed OpenAPI document declares the errors it answers as problem
details, by status, with their stable codes where the status has fixed ones: 401 behind a token,
403 for a role-limited route (naming the roles admitted), 404 where a path names an object."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

DOCUMENT = Path(__file__).parents[2] / "openapi" / "openapi.json"
PROBLEM_JSON = "application/problem+json"
PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture(scope="module")
def operations() -> list[tuple[str, str, dict[str, Any]]]:
    paths = json.loads(DOCUMENT.read_text(encoding="utf-8"))["paths"]
    return [(m, p, o) for p, ops in paths.items() for m, o in ops.items()]


# Answers in a vendor's own format, not ours.
VENDOR_BODIES = {("post", "/api/v1/payments/notify/wechat", "400")}


def test_every_error_answer_is_a_problem(operations) -> None:
    for method, path, operation in operations:
        responses = operation["responses"]
        assert responses["default"]["content"] == PROBLEM, (method, path)
        for status, response in responses.items():
            if status[0] in "45" and (method, path, status) not in VENDOR_BODIES:
                # The Problem schema under problem+json only; examples of its codes may follow.
                content = response.get("content") or {}
                assert set(content) == set(PROBLEM), (method, path, status)
                assert set(content[PROBLEM_JSON]) <= {"schema", "examples"}, (method, path, status)
                assert content[PROBLEM_JSON]["schema"] == PROBLEM[PROBLEM_JSON]["schema"], (
                    method,
                    path,
                    status,
                )


def test_a_token_route_declares_401_with_its_codes(operations) -> None:
    behind_token = [(m, p, o) for m, p, o in operations if o.get("security")]
    assert len(behind_token) > 150
    for method, path, operation in behind_token:
        text = operation["responses"]["401"]["description"]
        assert {"not_authenticated", "token_invalid", "session_revoked"} <= set(
            re.findall(r"[a-z_]+", text)
        ), (method, path)


def test_a_role_limited_route_declares_403_and_whom_it_admits(operations) -> None:
    # A 403 may also be a refusal raised in the route's code (forwarding out of one's care, a
    # role checked in the service): a role-limited route is one whose guard's 403 is declared.
    limited = [
        (m, p, o)
        for m, p, o in operations
        if o["responses"].get("403", {}).get("description", "").startswith("The caller's role")
    ]
    assert len(limited) > 100
    assert ("post", "/api/v1/orders") in {(m, p) for m, p, _ in limited}
    for method, path, operation in limited:
        text = operation["responses"]["403"]["description"]
        assert "forbidden_role" in text and "admitted:" in text, (method, path)


def test_a_route_naming_an_object_declares_404(operations) -> None:
    for method, path, operation in operations:
        if re.search(r"\{\w+_id\}", path):
            assert "not_found" in operation["responses"]["404"]["description"], (method, path)
