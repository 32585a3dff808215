"""Slow clients are timed out: uvicorn's HTTP protocol with header and body read timeouts.

uvicorn times out idle keep-alive connections only. A client that opens a connection and
sends its headers a byte a second, or declares a body and trickles it, holds a connection (and
a file descriptor) for as long as it likes; a few hundred such clients exhaust a worker. This
protocol adds the two timeouts of Apache's mod_reqtimeout:

- header: the request line and headers must be complete within HTTP_HEADER_TIMEOUT_SECONDS of
  the connection opening (first request) or of the request's first byte (later requests on a
  kept-alive connection; uvicorn's keep-alive timeout covers the silence between requests);
- body: the body must arrive within HTTP_BODY_TIMEOUT_SECONDS, extended by one second for
  every HTTP_BODY_MIN_BYTES_PER_SECOND bytes received, so a large upload at a steady pace
  finishes while a trickle does not. Time the client cannot send (the app has paused reading,
  or has not yet asked for the body of an `Expect: 100-continue` request) is not counted.

A request that times out is answered 408 problem+json and the connection closed; a connection
that sent nothing is just closed (browsers open spare connections), as is one whose response
already started. The close after a 408 lingers as nginx's `lingering_close` does: the answer is
followed by a FIN, and what the client still sends is read and dropped for up to
LINGER_SECONDS, because closing a socket with unread input sends a reset, which may destroy
the 408 in the client's buffer before it reads it.
Served by `python -m app.cli serve` (and so by the Docker image).
The timeouts are added to the httptools protocol, which uvicorn[standard] installs and picks by
default; h11 is uvicorn's pure-Python fallback and is not used here.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.config import get_settings
from app.errors import PROBLEM_JSON
from app.i18n import translate

log = structlog.get_logger(__name__)

REQUEST_TIMEOUT_CODE = "request_timeout"
LINGER_SECONDS = 2.0


def _timeout_response() -> bytes:
    body = json.dumps(
        {
            "type": f"https://errors.chronic-care.cn/{REQUEST_TIMEOUT_CODE}",
            "title": REQUEST_TIMEOUT_CODE,
            "status": 408,
            "code": REQUEST_TIMEOUT_CODE,
            "detail": translate(REQUEST_TIMEOUT_CODE),
            "request_id": None,
        },
        ensure_ascii=False,
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\n"
        f"content-type: {PROBLEM_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read timeouts (see the module)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self._header_timeout = settings.http_header_timeout_seconds
        self._body_timeout = settings.http_body_timeout_seconds
        self._body_min_rate = settings.http_body_min_bytes_per_second
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_deadline = 0.0
        # Whether any byte of the current request has arrived (for whom a 408 is meant).
        self._request_begun = False
        # A 408 has been sent: input is dropped until the client closes or the linger ends.
        self._lingering = False

    # -- connection and parser callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # read (so the close is a FIN, not a reset) and dropped
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        if self._header_timer is None:
            self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()
        if self.parser.should_upgrade() and self._should_upgrade():
            return  # a websocket handshake: the websocket protocol takes the connection over
        self._body_deadline = self.loop.time() + self._body_timeout
        self._body_timer = self.loop.call_later(self._body_timeout, self._body_timer_fired)

    def on_body(self, body: bytes) -> None:
        self._body_deadline += len(body) / self._body_min_rate
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        self._request_begun = False
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._cancel_timers()
        super().handle_websocket_upgrade()

    # -- timers ----------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self._header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _cancel_timers(self) -> None:
        self._cancel_header_timer()
        self._cancel_body_timer()

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        log.info("request headers timed out", client=self._client_text())
        self._time_out(answer=self._request_begun)

    def _body_timer_fired(self) -> None:
        self._body_timer = None
        if self.transport.is_closing():
            return
        now = self.loop.time()
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            # The client cannot send until the app reads: not the client's delay.
            self._body_deadline = max(self._body_deadline, now + self._body_timeout)
        if now < self._body_deadline:
            self._body_timer = self.loop.call_later(
                self._body_deadline - now, self._body_timer_fired
            )
            return
        log.info("request body timed out", client=self._client_text())
        answer = cycle is not None and not cycle.response_started
        if cycle is not None:
            # The app's next receive() answers http.disconnect; nothing more is sent.
            cycle.disconnected = True
            cycle.message_event.set()
        self._time_out(answer=answer)

    def _time_out(self, *, answer: bool) -> None:
        self._cancel_timers()
        if not answer or not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write(_timeout_response())
        self.transport.write_eof()
        self._lingering = True
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _client_text(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
