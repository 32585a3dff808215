"""A fake partner pharmacy system: receives our signed webhooks (and checks them as a real
partner would) and sends signed status callbacks back to the service."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.kit.clock import utcnow
from app.pharmacy.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_headers,
    signature_matches,
)

WINDOW_SECONDS = 300


@dataclass
class Received:
    idempotency_key: str
    body: dict[str, Any]


@dataclass
class FakePartner:
    """Verifies each webhook's HMAC and freshness; refuses (401) anything that fails."""

    secret: str
    received: list[Received] = field(default_factory=list)
    refused: int = 0

    def app(self) -> Starlette:
        """The partner's HTTP endpoint for our webhooks."""
        return Starlette(routes=[Route("/webhooks", self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> JSONResponse:
        body = await request.body()
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
        fresh = timestamp.isdigit() and abs(utcnow().timestamp() - int(timestamp)) <= WINDOW_SECONDS
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not fresh or not signature_matches(self.secret, timestamp, body, signature):
            self.refused += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        key = request.headers["Idempotency-Key"]
        if all(r.idempotency_key != key for r in self.received):
            self.received.append(Received(key, json.loads(body)))
        return JSONResponse({"ok": True})

    async def callback(
        self,
        http: httpx.AsyncClient,
        url: str,
        report: dict[str, Any],
        *,
        nonce: str | None = None,
        at: datetime | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """POST a signed status report to the service."""
        body = json.dumps(report, ensure_ascii=False).encode()
        headers = {
            **signature_headers(secret or self.secret, body, at or utcnow()),
            "Idempotency-Key": nonce or uuid.uuid4().hex,
            "Content-Type": "application/json",
        }
        return await http.post(url, content=body, headers=headers)
