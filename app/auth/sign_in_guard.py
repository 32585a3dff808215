"""What stands in front of a password check: rate limits per client address and per username,
and a bounded pool for the argon2 work itself.

- Rate limits (the `limits` library, moving window: exact, where a sliding window counter lets
  a burst through at a window's edge): counted in Redis when REDIS_URL is set, so every
  process shares them; in the process otherwise. If
  Redis stops answering, the process falls back to its own counters (a limit that fails open
  would be no limit during an outage an attacker can cause).
- argon2id costs ~0.2 s of CPU and 64 MiB by design. Run on the default thread pool, a flood
  of sign-ins runs dozens at once and starves the event loop's own thread of CPU, so every
  request of the process slows (measured in bench/README.md, "Password sign-in flood"). Here
  at most PASSWORD_HASH_CONCURRENCY run at a time on their own threads, at most
  PASSWORD_HASH_QUEUE more wait, and any further attempt is refused at once (503 with
  Retry-After) without costing anything. argon2 starts a thread per lane (4 by default) from
  the hashing thread; those run at PASSWORD_HASH_NICENESS below the event loop, so the loop
  is served first when both want the CPU.

The lockout with back-off after failures in a row lives in the database (every process must
agree on it): see `app/auth/service.py` and `app/models/sign_in_failure.py`.
"""

from __future__ import annotations

import asyncio
import math
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import structlog
from limits import RateLimitItem
from limits import parse as parse_rate
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.exceptions import RedisError
from starlette.datastructures import State

from app.auth.errors import SignInBusy, SignInThrottled
from app.auth.passwords import verify_password
from app.config import Settings
from app.realtime.hub import request_path_options

log = structlog.get_logger(__name__)

_NAMESPACE = "sign-in"
_STORAGE_ERRORS = (RedisError, OSError, StorageError)


class SignInGuard:
    """The per-process sign-in limits and argon2 pool (`sign_in_guard(state)` makes it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._per_address: RateLimitItem = parse_rate(settings.sign_in_rate_per_address)
        self._per_username: RateLimitItem = parse_rate(settings.sign_in_rate_per_username)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if settings.redis_url:
            timeouts = (settings.redis_timeout_seconds, settings.redis_connect_timeout_seconds)
            self._shared = MovingWindowRateLimiter(
                RedisStorage(
                    f"async+{settings.redis_url}",
                    implementation="redispy",
                    key_prefix="sign-in-rate",
                    **request_path_options(*timeouts),
                )
            )
        self._hashing = ThreadPoolExecutor(
            max_workers=settings.password_hash_concurrency,
            thread_name_prefix="argon2",
            initializer=_lower_priority,
            initargs=(settings.password_hash_niceness,),
        )
        self._hash_slots = settings.password_hash_concurrency + settings.password_hash_queue
        self._hashes_in_flight = 0

    async def count_address(self, address: str) -> None:
        """Count an attempt from `address`; 429 `sign_in_throttled` past its limit."""
        await self._count(self._per_address, "address", address)

    async def count_username(self, username_key: str) -> None:
        """Count an attempt for `username_key`; 429 `sign_in_throttled` past its limit."""
        await self._count(self._per_username, "username", username_key)

    async def _count(self, rate: RateLimitItem, kind: str, identifier: str) -> None:
        limiter = await self._refusing_limiter(rate, kind, identifier)
        if limiter is None:
            return
        try:
            stats = await limiter.get_window_stats(rate, _NAMESPACE, kind, identifier)
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        except _STORAGE_ERRORS:
            retry_after = rate.get_expiry()
        log.info("sign-in throttled", by=kind, retry_after=retry_after)
        raise SignInThrottled(retry_after=retry_after)

    async def _refusing_limiter(
        self, rate: RateLimitItem, kind: str, identifier: str
    ) -> MovingWindowRateLimiter | None:
        """The limiter that refuses this attempt, or None when it is allowed."""
        if self._shared is not None:
            try:
                allowed = await self._shared.hit(rate, _NAMESPACE, kind, identifier)
                return None if allowed else self._shared
            except _STORAGE_ERRORS as exc:
                log.warning("sign-in limits unavailable in redis; counting locally", error=str(exc))
        allowed = await self._local.hit(rate, _NAMESPACE, kind, identifier)
        return None if allowed else self._local

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Check a password on the argon2 pool; 503 `sign_in_busy` when the queue is full."""
        if self._hashes_in_flight >= self._hash_slots:
            raise SignInBusy()
        self._hashes_in_flight += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._hashing, verify_password, password_hash, password
            )
        finally:
            self._hashes_in_flight -= 1

    def close(self) -> None:
        """Let the argon2 threads finish and go."""
        self._hashing.shutdown(wait=False, cancel_futures=True)


def _lower_priority(niceness: int) -> None:
    """Run this hashing thread (and the lane threads argon2 starts from it, which inherit it)
    at a lower CPU priority than the event loop's thread: under a flood the loop keeps serving
    everyone else, and the hashes take what CPU is left. Linux only, where a thread id names
    the thread (elsewhere it would name a process)."""
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + niceness)
    except OSError as exc:
        log.warning("cannot lower the argon2 thread's priority", error=str(exc))


def sign_in_guard(state: State) -> SignInGuard:
    """The application's sign-in guard (made on first use, for the app's settings)."""
    guard: SignInGuard | None = getattr(state, "sign_in_guard", None)
    if guard is None or guard.settings is not state.settings:
        guard = SignInGuard(state.settings)
        state.sign_in_guard = guard
    return guard
