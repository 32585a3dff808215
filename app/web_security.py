"""Security headers on every HTTP response, and who may read /metrics.

- Everything: `X-Content-Type-Options: nosniff` (a browser never guesses a type we did not
  declare) and `Referrer-Policy: no-referrer` (URLs carry ids).
- API responses: `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`, so a
  JSON or file answer opened in a browser can run nothing and be framed by no one.
- The store dashboard (`/dashboard`): a policy that admits only its own script, style sheet,
  API and websocket, and no framing (`frame-ancestors 'none'`, and `X-Frame-Options` for older
  browsers). The page has no inline script or style, so nothing needs 'unsafe-inline'.
- Prod: `Strict-Transport-Security` (the service sits behind TLS there).

A development server (published dev secrets, the fake WeChat that signs anyone in) serves this
machine only when nobody asked for it: started without APP_ENV, however it was started (`app.cli
serve` already runs prod on a non-loopback bind; a bare `uvicorn --host 0.0.0.0` does not know
to), it answers a client from another address 403 `development_server_local_only`.

/docs and /redoc are left without a policy: FastAPI's pages start Swagger UI and ReDoc (served
from /docs-assets) with an inline bootstrap script, and prod does not serve them unless
API_DOCS_ENABLED.
A header a route sets itself is kept.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Environment, Settings
from app.errors import NotFound, Unauthorized, problem_response
from app.i18n import translate
from app.kit.public_address import is_local_host

API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DASHBOARD_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DASHBOARD_PATH = "/dashboard"
_DOC_PAGES = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    """Add the security headers above to each HTTP response start."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        common = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
        if settings.env == Environment.prod and settings.hsts_max_age_seconds > 0:
            hsts = f"max-age={settings.hsts_max_age_seconds}; includeSubDomains"
            common.append((b"strict-transport-security", hsts.encode()))
        self.common = common
        self.api = [*common, (b"content-security-policy", API_POLICY.encode())]
        self.dashboard = [
            *common,
            (b"content-security-policy", DASHBOARD_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
        ]

    def headers_for(self, path: str) -> list[tuple[bytes, bytes]]:
        """The headers a response to `path` gets."""
        if path == DASHBOARD_PATH or path.startswith(DASHBOARD_PATH + "/"):
            return self.dashboard
        if path.startswith(_DOC_PAGES):
            return self.common
        return self.api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def development_by_default(settings: Settings) -> bool:
    """Whether this is a development server that nobody asked for (APP_ENV unset)."""
    return settings.env == Environment.dev and "env" not in settings.model_fields_set


class LocalOnlyDevelopmentMiddleware:
    """Refuse clients that are not on this machine (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] == "lifespan" or client is None or is_local_host(client[0]):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            # Closing before accepting answers the handshake with 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        code = "development_server_local_only"
        await problem_response(403, code, translate(code))(scope, receive, send)


def require_metrics_access(request: Request) -> None:
    """Who may read /metrics: anyone in dev/test without METRICS_TOKEN; otherwise only a
    scraper presenting `Authorization: Bearer <METRICS_TOKEN>`; in prod without a token, no
    one (404, as if the route did not exist)."""
    settings: Settings = request.app.state.settings
    token = settings.metrics_token
    if token is None:
        if settings.env == Environment.prod:
            raise NotFound("route_not_found")
        return
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), token.encode()):
        raise Unauthorized("not_authenticated")
