"""Slow clients are timed out by the server operators run (`python -m app.cli serve`): raw
sockets against a real uvicorn process, dribbling headers or bodies a byte at a time."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.fixtures.servers import start_uvicorn

pytestmark = pytest.mark.sqlite_file

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.0
MIN_RATE = 200  # bytes per second
# Generous: the machine is shared; what matters is closed in seconds instead of never.
CLOSED_WITHIN = 6.0


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, int]]:
    """One `app.cli serve` process with short timeouts (no database work on these routes)."""
    db = Path(tmp_path_factory.mktemp("timeouts")) / "unused.db"
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "OUTBOX_RELAY_ENABLED": "false",
        "BACKGROUND_JOBS_ENABLED": "false",
        "FAKE_WECHAT_ENABLED": "true",
        "HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "HTTP_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "HTTP_BODY_MIN_BYTES_PER_SECOND": str(MIN_RATE),
    }
    async with start_uvicorn(env, via_cli=True) as process:
        address = urlsplit(process.url)
        assert address.hostname and address.port
        yield address.hostname, address.port


async def _dribble(
    server: tuple[str, int], data: bytes, *, every: float = 0.2, head: bytes = b""
) -> tuple[bytes, float]:
    """Send `head` at once, then `data` a byte every `every` seconds until the server closes;
    return everything it answered and how long it held the connection."""
    reader, writer = await asyncio.open_connection(*server)
    started = time.monotonic()
    answer = asyncio.create_task(reader.read())
    try:
        writer.write(head)
        for index in range(len(data)):
            if answer.done():
                break
            try:
                writer.write(data[index : index + 1])
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(every)
        received = await asyncio.wait_for(answer, CLOSED_WITHIN)
        return received, time.monotonic() - started
    finally:
        writer.close()


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _json_body(response: bytes) -> dict[str, object]:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])


# Far longer than the timeouts: held open by the server, these would take a minute.
SLOW_HEADERS = (
    b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + b"X-Padding: " + b"a" * 300 + b"\r\n\r\n"
)


async def test_headers_sent_a_byte_at_a_time_are_answered_408_and_closed(server) -> None:
    response, held = await _dribble(server, SLOW_HEADERS)
    assert _status(response) == 408
    assert _json_body(response)["code"] == "request_timeout"
    assert b"connection: close" in response.lower()
    assert held < HEADER_TIMEOUT + 3


async def test_many_slow_clients_are_all_let_go(server) -> None:
    outcomes = await asyncio.gather(*(_dribble(server, SLOW_HEADERS, every=0.5) for _ in range(50)))
    assert all(_status(response) == 408 for response, _ in outcomes)
    assert max(held for _, held in outcomes) < CLOSED_WITHIN


async def test_a_client_still_sending_after_its_408_reads_the_answer_intact(server) -> None:
    # The server has answered and closed while the client, not reading yet, goes on sending:
    # a socket closed with unread input answers a reset, which can destroy the 408 before the
    # client reads it. Lingering (reading and dropping) keeps the answer readable.
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Padding: ")
        await asyncio.sleep(HEADER_TIMEOUT + 0.5)
        for _ in range(20):
            writer.write(b"a" * 1000)
            await writer.drain()
            await asyncio.sleep(0.01)
        response = await asyncio.wait_for(reader.read(), CLOSED_WITHIN)
    finally:
        writer.close()
    assert _status(response) == 408
    assert _json_body(response)["code"] == "request_timeout"


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(server) -> None:
    reader, writer = await asyncio.open_connection(*server)
    started = time.monotonic()
    try:
        assert await asyncio.wait_for(reader.read(), CLOSED_WITHIN) == b""
    finally:
        writer.close()
    assert time.monotonic() - started >= HEADER_TIMEOUT * 0.9


async def test_a_body_sent_a_byte_at_a_time_is_answered_408_and_closed(server) -> None:
    head = (
        b"POST /_dev/wechat/wx.login HTTP/1.1\r\nHost: test\r\n"
        b"Content-Type: application/json\r\nContent-Length: 300\r\n\r\n"
    )
    response, held = await _dribble(server, b" " * 300, head=head)
    assert _status(response) == 408
    assert held < BODY_TIMEOUT + 3


async def test_a_body_still_trickling_after_an_early_answer_is_cut_off(server) -> None:
    # The route does not exist: the app answers 404 at once without reading the body, and the
    # trickle must not keep the connection open (it is not idle, so keep-alive never fires).
    head = b"POST /no-such-route HTTP/1.1\r\nHost: test\r\nContent-Length: 300\r\n\r\n"
    response, held = await _dribble(server, b"x" * 300, head=head)
    assert _status(response) == 404
    assert held < BODY_TIMEOUT + 3


async def test_a_steady_upload_slower_than_the_base_timeout_is_served(server) -> None:
    # 1,200 bytes over ~2 s: twice the base body timeout, but at 600 bytes/s, above the
    # minimum rate, so every chunk extends the deadline.
    body = json.dumps({"openid": "o" * 60}).encode().ljust(1200)
    head = (
        b"POST /_dev/wechat/wx.login HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(head)
        for start in range(0, len(body), 120):
            writer.write(body[start : start + 120])
            await writer.drain()
            await asyncio.sleep(0.2)
        response = await asyncio.wait_for(reader.read(), CLOSED_WITHIN)
    finally:
        writer.close()
    assert _status(response) == 200
    assert "code" in _json_body(response)


async def test_a_kept_alive_connection_times_out_its_next_slow_request(server) -> None:
    first = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
    reader, writer = await asyncio.open_connection(*server)
    try:
        writer.write(first)
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        await reader.readexactly(len(b'{"status":"ok"}'))
        started = time.monotonic()
        answer = asyncio.create_task(reader.read())
        for byte in SLOW_HEADERS:
            if answer.done():
                break
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)
        response = await asyncio.wait_for(answer, CLOSED_WITHIN)
    finally:
        writer.close()
    assert _status(response) == 408
    assert time.monotonic() - started < HEADER_TIMEOUT + 3
