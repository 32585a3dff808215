"""problem+json for every error, request ids, languages, health and readiness, metrics."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from app.errors import problem_response


async def test_unknown_route_is_problem_json(client) -> None:
    response = await client.get("/api/v1/nowhere")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "route_not_found"
    assert response.json()["detail"] == "请求的接口不存在"


async def test_wrong_method_is_problem_json(client) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


async def test_malformed_json_is_422(client) -> None:
    response = await client.post(
        "/api/v1/auth/password-login",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"


async def test_unexpected_error_hides_the_stack_trace(app) -> None:
    router = APIRouter()

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.include_router(router)
    # Starlette re-raises after answering (so the server logs it); look only at the answer.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert "hunter2" not in response.text and "Traceback" not in response.text


async def test_request_id_is_echoed_or_generated(client) -> None:
    given = await client.get("/healthz", headers={"X-Request-ID": "trace-abc-123"})
    assert given.headers["x-request-id"] == "trace-abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32


async def test_unsafe_request_id_is_replaced(client) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert response.headers["x-request-id"] != "bad id\nwith newline"


async def test_problem_carries_the_request_id(client) -> None:
    response = await client.get("/api/v1/nowhere", headers={"X-Request-ID": "req-42"})
    assert response.json()["request_id"] == "req-42"


async def test_english_detail_by_accept_language(client) -> None:
    response = await client.get("/api/v1/nowhere", headers={"Accept-Language": "en;q=0.9"})
    assert response.json()["detail"] == "No such endpoint"


async def test_healthz(client) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_readyz_reports_schema_at_head(client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["schema_revisions"] == body["expected_revisions"] != []


async def test_readyz_is_503_when_schema_is_behind(client, monkeypatch) -> None:
    from app.health import migrations_state

    monkeypatch.setattr(migrations_state, "head_revisions", lambda: ("a-newer-revision",))
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["code"] == "schema_not_at_head"


async def test_metrics_count_requests_by_route_template(client) -> None:
    await client.get("/healthz")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/healthz",status="200"}' in text


def test_401_problem_names_the_bearer_scheme() -> None:
    assert problem_response(401, "x", "y").headers["www-authenticate"] == "Bearer"
