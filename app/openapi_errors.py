"""The OpenAPI description of the errors: every operation answers them as a `Problem`.

FastAPI would document its own 422 body (`HTTPValidationError`, application/json), which this
service never sends, and no other error at all; the handlers in app/errors.py answer every error,
of any status, as application/problem+json.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict

from app.errors import PROBLEM_JSON


class ValidationIssue(BaseModel):
    """One thing wrong with a malformed request: where, what kind, and pydantic's message."""

    loc: list[str | int]
    type: str
    msg: str


class Problem(BaseModel):
    """Every error response: RFC 9457 problem details plus the stable `code` and request id."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    code: str
    detail: str
    request_id: str | None
    # Only on validation_failed (422).
    errors: list[ValidationIssue] | None = None


def document_problem_responses(app: FastAPI) -> None:
    """Declare in the app's OpenAPI document that every operation's errors are `Problem`s."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    # An error a route declares by its description only is still a Problem.
                    if status[0] in "45" and "content" not in response:
                        response["content"] = content
                if "422" in responses:
                    responses["422"] = {
                        "description": "The request is malformed",
                        "content": content,
                    }
                responses["default"] = {
                    "description": "An error (problem details)",
                    "content": content,
                }
        return document

    app.openapi = openapi  # type: ignore[method-assign]
