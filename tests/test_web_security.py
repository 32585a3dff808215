"""Security headers on every response; the API description and metrics are not public in prod."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Environment, Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from tests.fixtures.prod_settings import PROD_SETTINGS


async def _client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as client:
        yield client


@pytest.fixture
async def prod_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app as configured in production (no lifespan: these routes need no database)."""
    async for client in _client(Settings(**PROD_SETTINGS, database_url=database_url)):
        yield client


async def test_the_dashboard_may_not_be_framed_and_runs_only_its_own_code(client) -> None:
    for path in ("/dashboard", "/dashboard/assets/dashboard.js"):
        response = await client.get(path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_api_answers_carry_nosniff_referrer_policy_and_a_deny_all_policy(client) -> None:
    for response in (await client.get("/healthz"), await client.get("/api/v1/auth/me")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )


async def test_hsts_is_sent_in_prod_only(client, prod_client) -> None:
    assert "strict-transport-security" not in (await client.get("/healthz")).headers
    hsts = (await prod_client.get("/healthz")).headers["strict-transport-security"]
    assert hsts.startswith("max-age=31536000")


async def test_prod_does_not_serve_the_api_description(prod_client) -> None:
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await prod_client.get(path)).status_code == 404, path


async def test_prod_serves_the_api_description_when_enabled(database_url: str) -> None:
    settings = Settings(**PROD_SETTINGS, database_url=database_url, api_docs_enabled=True)
    async for client in _client(settings):
        assert (await client.get("/openapi.json")).status_code == 200
        assert (await client.get("/docs")).status_code == 200


async def test_dev_serves_the_api_description(client) -> None:
    assert (await client.get("/openapi.json")).status_code == 200


async def test_prod_without_a_metrics_token_does_not_serve_metrics(prod_client) -> None:
    assert (await prod_client.get("/metrics")).status_code == 404


async def test_metrics_need_the_configured_token(database_url: str) -> None:
    token = secrets.token_urlsafe(32)
    settings = Settings(**PROD_SETTINGS, database_url=database_url, metrics_token=token)
    app = create_app(settings)
    # A scrape counts the domain's state (open alerts, orders, outbox) in the database.
    engine = create_engine(settings)
    app.state.sessionmaker = create_sessionmaker(engine)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as client:
            assert (await client.get("/metrics")).status_code == 401
            wrong = {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
            assert (await client.get("/metrics", headers=wrong)).status_code == 401
            right = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert right.status_code == 200
            assert "http_requests_total" in right.text
    finally:
        await engine.dispose()


async def test_dev_and_test_serve_metrics_without_a_token(client) -> None:
    assert (await client.get("/metrics")).status_code == 200


async def test_the_api_pages_load_nothing_from_another_origin(client) -> None:
    # A CDN (jsDelivr, unpkg) is unreliable from mainland China: every script, style sheet and
    # icon the pages name is served by this service.
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assets += re.findall(r"""url: ['"]([^'"]+)['"]""", html)
        assert assets, page
        for url in assets:
            assert url.startswith("/"), (page, url)
            response = await client.get(url)
            assert response.status_code == 200, (page, url)


def _development_by_default(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Settings:
    """Settings as a bare `uvicorn app.main:create_app` gets them without APP_ENV."""
    monkeypatch.delenv("APP_ENV", raising=False)
    settings = Settings(database_url=database_url)
    assert settings.env == Environment.dev and "env" not in settings.model_fields_set
    return settings


async def test_a_development_server_nobody_asked_for_refuses_other_machines(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    app = create_app(_development_by_default(monkeypatch, database_url))
    remote = httpx.ASGITransport(app=app, client=("203.0.113.7", 50123))
    async with httpx.AsyncClient(transport=remote, base_url="http://api.test") as client:
        for path in ("/healthz", "/_dev/wechat/wx.login", "/api/v1/auth/me"):
            response = await client.get(path, headers={"Accept-Language": "en"})
            assert response.status_code == 403, path
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == "development_server_local_only"
            assert "APP_ENV" in response.json()["detail"]
            assert response.headers["x-content-type-options"] == "nosniff"
    local = httpx.ASGITransport(app=app, client=("127.0.0.1", 50123))
    async with httpx.AsyncClient(transport=local, base_url="http://api.test") as client:
        assert (await client.get("/healthz")).status_code == 200


async def test_a_development_server_nobody_asked_for_refuses_a_remote_socket(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    app = create_app(_development_by_default(monkeypatch, database_url))
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/ws",
        "raw_path": b"/ws",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"api.test")],
        "client": ("203.0.113.7", 50123),
        "server": ("0.0.0.0", 8000),
        "subprotocols": [],
    }
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    # Closed before it was accepted: the handshake is answered 403.
    assert sent == [{"type": "websocket.close", "code": 1008}]


async def test_a_development_server_asked_for_serves_other_machines(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("APP_ENV", "dev")
    app = create_app(Settings(database_url=database_url))
    remote = httpx.ASGITransport(app=app, client=("203.0.113.7", 50123))
    async with httpx.AsyncClient(transport=remote, base_url="http://api.test") as client:
        assert (await client.get("/healthz")).status_code == 200
