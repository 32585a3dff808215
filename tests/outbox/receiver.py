"""An idempotent HTTP receiver on a real socket (uvicorn in a thread), for relay crash tests."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class IdempotentReceiver:
    """Applies each order's effect once per Idempotency-Key; can hang a key's first delivery.

    The effect is counted per order (from the body), not per key: if a redelivery carried a
    different key, the order would be applied twice and the test would see it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.deliveries: Counter[str] = Counter()  # Idempotency-Key -> requests received
        self.applied: Counter[str] = Counter()  # order -> times its effect was applied
        self._seen_keys: set[str] = set()
        self._hang_keys: set[str] = set()
        self.hanging: set[str] = set()
        self.url = ""

    def hang_first_delivery_of(self, key: str) -> None:
        """Apply the first delivery of `key`, then never answer it (a lost acknowledgement)."""
        self._hang_keys.add(key)

    def snapshot(self) -> tuple[Counter[str], Counter[str], set[str]]:
        """Copies of deliveries, applied effects and hanging keys, taken under the lock."""
        with self._lock:
            return Counter(self.deliveries), Counter(self.applied), set(self.hanging)

    async def _receive(self, request: Request) -> JSONResponse:
        key = request.headers.get("Idempotency-Key")
        if not key:
            return JSONResponse({"error": "Idempotency-Key required"}, status_code=400)
        order = str((await request.json())["order"])
        with self._lock:
            self.deliveries[key] += 1
            if key not in self._seen_keys:
                self._seen_keys.add(key)
                self.applied[order] += 1
            hang = key in self._hang_keys and self.deliveries[key] == 1
            if hang:
                self.hanging.add(key)
        if hang:
            await asyncio.to_thread(self._release.wait)
        return JSONResponse({"order": order, "applied": True})

    @contextmanager
    def running(self) -> Iterator[IdempotentReceiver]:
        """Serve on 127.0.0.1 (a free port) in a background thread until the block ends."""
        app = Starlette(routes=[Route("/effects", self._receive, methods=["POST"])])
        server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/effects"
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("receiver did not start")
            time.sleep(0.01)
        try:
            yield self
        finally:
            self._release.set()
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
