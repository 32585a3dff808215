"""The client side of the demo journey: signed-in HTTP clients for each person, a live /ws
connection kept the way the apps keep it (answering the server's heartbeats), and how the apps
show amounts (yuan) and times (Asia/Shanghai)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from app.demo.data import DEMO_PASSWORD
from app.kit.clock import to_shanghai

WAIT_SECONDS = 10.0  # the longest anything live may take to arrive


class JourneyFailed(Exception):
    """A step did not do what the clients expect; the message says what."""


def problem(response: httpx.Response) -> str:
    """What an error response says: its problem code and detail, or the start of its body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and "code" in body:
        return f"{body['code']}: {body.get('detail', '')}"
    return json.dumps(body, ensure_ascii=False)[:200]


def one(items: list[dict[str, Any]], match: Callable[[dict[str, Any]], bool], what: str) -> Any:
    """The first item that matches; the journey fails if there is none."""
    found = next((item for item in items if match(item)), None)
    if found is None:
        raise JourneyFailed(f"no {what} (is the demo data loaded? python -m app.cli seed-demo)")
    return found


def local(moment: str | datetime) -> str:
    """An API time as people in the pilot city read it."""
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return to_shanghai(parsed).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class Actor:
    """One signed-in person's app: their access token, account and an HTTP client."""

    http: httpx.AsyncClient
    token: str
    account: dict[str, Any]

    async def fetch(
        self, path: str, *, method: str = "GET", expect: Collection[int] = (200,), **kw: Any
    ) -> httpx.Response:
        """The response, which must have one of the `expect` statuses."""
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        response = await self.http.request(method, path, headers=headers, **kw)
        if response.status_code not in expect:
            raise JourneyFailed(
                f"{method} {path} answered {response.status_code} ({problem(response)})"
            )
        return response

    async def _json(self, method: str, path: str, expect: int, **kw: Any) -> Any:
        return (await self.fetch(path, method=method, expect=(expect,), **kw)).json()

    async def get(self, path: str, expect: int = 200, **kw: Any) -> Any:
        """GET, decoded JSON."""
        return await self._json("GET", path, expect, **kw)

    async def every(self, path: str, **kw: Any) -> list[Any]:
        """Every item of a list, following its pages (`next` until null)."""
        params = dict(kw.pop("params", None) or {})
        items: list[Any] = []
        while True:
            page = await self.get(path, params=params, **kw)
            items.extend(page["items"])
            if page["next"] is None:
                return items
            params["cursor"] = page["next"]

    async def post(self, path: str, expect: int = 200, **kw: Any) -> Any:
        """POST, decoded JSON."""
        return await self._json("POST", path, expect, **kw)

    async def put(self, path: str, expect: int = 200, **kw: Any) -> Any:
        """PUT, decoded JSON."""
        return await self._json("PUT", path, expect, **kw)

    async def patch(self, path: str, expect: int = 200, **kw: Any) -> Any:
        """PATCH, decoded JSON."""
        return await self._json("PATCH", path, expect, **kw)


async def _signed_in(http: httpx.AsyncClient, path: str, body: dict[str, str]) -> Actor:
    response = await http.post(path, json=body)
    if response.status_code != 200:
        raise JourneyFailed(
            f"sign-in at {path} answered {response.status_code}: {problem(response)}"
        )
    tokens = response.json()
    return Actor(http, tokens["access_token"], tokens["account"])


async def sign_in_wechat(http: httpx.AsyncClient, openid: str) -> Actor:
    """The mini-program's sign-in: wx.login() (the dev fake WeChat) gives a code, the app sends
    it to our server, which exchanges it with WeChat; a new openid becomes a new patient."""
    response = await http.post("/_dev/wechat/wx.login", json={"openid": openid})
    if response.status_code != 200:
        raise JourneyFailed(
            f"the fake WeChat answered {response.status_code}: is the server in development "
            "mode with FAKE_WECHAT_ENABLED?"
        )
    return await _signed_in(http, "/api/v1/auth/wechat-login", {"code": response.json()["code"]})


async def sign_in_staff(http: httpx.AsyncClient, username: str) -> Actor:
    """A demo staff member's password sign-in (python -m app.cli seed-demo creates them)."""
    return await _signed_in(
        http, "/api/v1/auth/password-login", {"username": username, "password": DEMO_PASSWORD}
    )


class LiveSocket:
    """A signed-in /ws connection: answers heartbeats, keeps every other frame until asked."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._unclaimed: list[dict[str, Any]] = []

    @classmethod
    @asynccontextmanager
    async def open(cls, base_url: str, token: str) -> AsyncIterator[LiveSocket]:
        """Connect to `base_url`'s /ws and authenticate with the first frame."""
        url = base_url.replace("http", "ws", 1).rstrip("/") + "/ws"
        try:
            ws = await connect(url, open_timeout=WAIT_SECONDS, close_timeout=1)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise JourneyFailed(f"cannot open {url}: {exc!r}") from exc
        async with ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            async with asyncio.timeout(WAIT_SECONDS):
                ready = json.loads(await ws.recv())
            if ready.get("type") != "ready":
                raise JourneyFailed(f"/ws did not accept the sign-in: {ready}")
            socket = cls(ws)
            reader = asyncio.create_task(socket._read())
            try:
                yield socket
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self._ws:
                frame = json.loads(raw)
                if frame.get("type") == "ping":
                    await self._ws.send(json.dumps({"type": "pong"}))
                else:
                    self._arrived.put_nowait(frame)

    async def expect(
        self, kind: str | None, match: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        """The first frame of type `kind` (any type if None) that `match`es, arrived or arriving
        within WAIT_SECONDS; frames it passes over stay for later calls."""

        def fits(frame: dict[str, Any]) -> bool:
            return (kind is None or frame.get("type") == kind) and match(frame)

        for frame in self._unclaimed:
            if fits(frame):
                self._unclaimed.remove(frame)
                return frame
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while not fits(frame := await self._arrived.get()):
                    self._unclaimed.append(frame)
        except TimeoutError:
            raise JourneyFailed(f"no live {kind or 'reply'} within {WAIT_SECONDS:.0f} s") from None
        return frame

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send a client frame; the server's reply to it (matched by "ref")."""
        ref = uuid.uuid4().hex
        await self._ws.send(json.dumps({**frame, "ref": ref}))
        reply = await self.expect(None, lambda f: f.get("ref") == ref)
        if reply.get("type") == "error":
            raise JourneyFailed(
                f"{frame['type']} refused: {reply.get('code')} {reply.get('detail')}"
            )
        return reply
