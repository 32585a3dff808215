"""Every documented operation is reached by its own path, and named in the access log and metrics
by its whole template: no router's route shadows another's,
so the order in which app/api.py mounts the routers (busiest first, since matching tries the
routes in order on every request) changes which routes are tried, never which one answers."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import observability


def _sample(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "1"
    return "sample"


def _operations(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, template, a concrete path of it) for every operation of the API description."""
    operations = []
    for template, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            path = template
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    path = path.replace("{" + parameter["name"] + "}", _sample(parameter))
            operations.append((method.upper(), template, path))
    return operations


class AccessLog:
    """Stands in for the access logger: the route template each request was answered by."""

    def __init__(self) -> None:
        self.routes: list[str] = []

    def info(self, _event: str, **fields: Any) -> None:
        self.routes.append(fields["route"])


async def test_every_operation_is_answered_by_its_own_route(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = AccessLog()
    monkeypatch.setattr(observability, "access_log", log)
    operations = _operations(app)
    assert len(operations) > 200
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        wrong = []
        for method, template, path in operations:
            log.routes.clear()
            await client.request(method, path)
            # The access log and metrics name the route by its whole documented template.
            if log.routes != [template]:
                wrong.append((method, path, template, log.routes))
    assert wrong == [], "\n".join(map(str, wrong))
