"""The WeChat access token, fetched once and shared by every process that sends messages.

`stable_token` answers the same token to every caller until it nears expiry, but a forced
refresh (after 40001/42001) is limited per day and invalidates the old token for everyone, so
refreshes are serialised: in Redis (key + lock) when REDIS_URL is set, in the process otherwise.
A refresh names the token that failed; if another process already replaced it, its successor
is used and WeChat is not asked again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.asyncio.lock import Lock

# How long a process waits for another one's refresh, and how long a lock may be held.
LOCK_WAIT_SECONDS = 15.0
LOCK_HOLD_SECONDS = 30.0


@dataclass(frozen=True)
class IssuedToken:
    """A token as WeChat issued it: its value and seconds of validity."""

    value: str
    expires_in: int


# Asks WeChat for a token; True forces a new one (stable_token's force_refresh).
FetchToken = Callable[[bool], Awaitable[IssuedToken]]


class AccessTokenCache(Protocol):
    """Where the current access token is kept."""

    async def current(self) -> str:
        """The valid token, fetched if there is none."""
        ...

    async def replace(self, stale: str) -> str:
        """A token other than `stale` (which WeChat refused): another process's, or new."""
        ...


def _lifetime(issued: IssuedToken, margin: int) -> int:
    return max(1, issued.expires_in - margin)


class InProcessTokenCache:
    """The token in this process's memory (one process, or no Redis)."""

    def __init__(
        self, fetch: FetchToken, margin: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch, self._margin, self._clock = fetch, margin, clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._until = 0.0

    def _valid(self) -> str | None:
        return self._token if self._token is not None and self._clock() < self._until else None

    async def _store(self, force: bool) -> str:
        issued = await self._fetch(force)
        self._token, self._until = issued.value, self._clock() + _lifetime(issued, self._margin)
        return issued.value

    async def current(self) -> str:
        """The valid token, fetched if there is none."""
        token = self._valid()
        if token is not None:
            return token
        async with self._lock:
            return self._valid() or await self._store(force=False)

    async def replace(self, stale: str) -> str:
        """A token other than `stale`: the one a concurrent refresh got, or a forced new one."""
        async with self._lock:
            token = self._valid()
            if token is not None and token != stale:
                return token
            return await self._store(force=True)


class RedisTokenCache:
    """The token in Redis, shared by every process; fetches happen under a Redis lock."""

    def __init__(self, redis: Redis, key: str, fetch: FetchToken, margin: int) -> None:
        self._redis, self._key, self._fetch, self._margin = redis, key, fetch, margin

    async def _get(self) -> str | None:
        value = await self._redis.get(self._key)
        return value.decode() if isinstance(value, bytes) else value

    async def _store(self, force: bool) -> str:
        issued = await self._fetch(force)
        await self._redis.set(self._key, issued.value, ex=_lifetime(issued, self._margin))
        return issued.value

    def _lock(self) -> Lock:
        return self._redis.lock(
            f"{self._key}:lock", timeout=LOCK_HOLD_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS
        )

    async def current(self) -> str:
        """The valid token, fetched (by one process at a time) if there is none."""
        token = await self._get()
        if token is not None:
            return token
        async with self._lock():
            return await self._get() or await self._store(force=False)

    async def replace(self, stale: str) -> str:
        """A token other than `stale`: another process's fresh one, or a forced new one."""
        async with self._lock():
            token = await self._get()
            if token is not None and token != stale:
                return token
            return await self._store(force=True)
