"""Chat's per-process state: send rate limits, presence, typing indicators, membership cache.

Nothing here is stored in the database. Rate limits and presence are shared by every process
through Redis when REDIS_URL is set (one process otherwise); typing indicators and the
membership cache are per process and only ever hold a few seconds of ephemeral state.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Collection, Iterable
from typing import Any

import structlog
from limits import RateLimitItemPerSecond, WindowStats
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.datastructures import State

from app.chat.errors import RateLimited
from app.config import Settings
from app.realtime.hub import RealtimeHub, RedisHub, request_path_options

log = structlog.get_logger(__name__)

_MEMBERSHIP_TTL_SECONDS = 30.0

RATE_LIMIT_FALLBACKS = Counter(
    "chat_rate_limit_local_fallbacks_total",
    "Chat sends counted by the process's own limiter because Redis was unreachable",
)


class TypingTracker:
    """Who is typing where, in memory only: a start is announced once and expires by itself."""

    def __init__(self, hub: RealtimeHub, timeout_seconds: float) -> None:
        self._hub = hub
        self._timeout = timeout_seconds
        self._timers: dict[tuple[uuid.UUID, uuid.UUID], asyncio.TimerHandle] = {}
        self._sending: set[asyncio.Task[None]] = set()

    def is_typing(self, conversation_id: uuid.UUID, account_id: uuid.UUID) -> bool:
        """Whether an unexpired typing indicator is live in this process."""
        return (conversation_id, account_id) in self._timers

    def started(
        self, conversation_id: uuid.UUID, account_id: uuid.UUID, others: Collection[uuid.UUID]
    ) -> None:
        """The account is typing: tell the others once, and (re)arm the expiry."""
        key = (conversation_id, account_id)
        timer = self._timers.pop(key, None)
        if timer is None:
            self._announce(conversation_id, account_id, others, typing=True)
        else:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(self._timeout, self._expire, key, tuple(others))

    def sent(self, conversation_id: uuid.UUID, account_id: uuid.UUID) -> None:
        """The account sent a message: its indicator ends (clients clear it on the message)."""
        timer = self._timers.pop((conversation_id, account_id), None)
        if timer is not None:
            timer.cancel()

    def _expire(self, key: tuple[uuid.UUID, uuid.UUID], others: tuple[uuid.UUID, ...]) -> None:
        if self._timers.pop(key, None) is not None:
            self._announce(*key, others, typing=False)

    def _announce(
        self,
        conversation_id: uuid.UUID,
        account_id: uuid.UUID,
        others: Iterable[uuid.UUID],
        *,
        typing: bool,
    ) -> None:
        event = {
            "type": "chat.typing",
            "conversation_id": str(conversation_id),
            "account_id": str(account_id),
            "typing": typing,
            "timeout_seconds": self._timeout,
        }
        task = asyncio.create_task(self._publish(tuple(others), event))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _publish(self, others: tuple[uuid.UUID, ...], event: dict[str, Any]) -> None:
        for other in others:
            await self._hub.publish(other, event)


class MembershipCache:
    """Active participants per conversation for a few seconds (typing never reads the DB)."""

    def __init__(self, ttl_seconds: float = _MEMBERSHIP_TTL_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[uuid.UUID, tuple[float, frozenset[uuid.UUID]]] = {}

    def get(self, conversation_id: uuid.UUID) -> frozenset[uuid.UUID] | None:
        """The cached participants, or None when unknown or stale."""
        entry = self._entries.get(conversation_id)
        if entry is None or entry[0] < time.monotonic():
            self._entries.pop(conversation_id, None)
            return None
        return entry[1]

    def put(self, conversation_id: uuid.UUID, account_ids: Iterable[uuid.UUID]) -> None:
        """Remember the participants just read from the database."""
        self._entries[conversation_id] = (time.monotonic() + self._ttl, frozenset(account_ids))

    def forget(self, conversation_id: uuid.UUID) -> None:
        """Drop an entry after membership changed."""
        self._entries.pop(conversation_id, None)


class ChatRuntime:
    """The chat state of one process; `chat_runtime(app)` creates it on first use."""

    def __init__(self, settings: Settings, hub: RealtimeHub) -> None:
        self.settings = settings
        self.hub = hub
        self.typing = TypingTracker(hub, settings.chat_typing_timeout_seconds)
        self.members = MembershipCache()
        self._redis: Redis | None = None
        storage: Storage = MemoryStorage()
        if settings.redis_url:
            # Both are awaited by a send: a hung Redis must cost it a short timeout each, not
            # seconds (the send is then accepted without the limit and pushed to everyone).
            timeouts = (settings.redis_timeout_seconds, settings.redis_connect_timeout_seconds)
            self._redis = Redis.from_url(
                settings.redis_url, decode_responses=True, **request_path_options(*timeouts)
            )
            storage = RedisStorage(
                f"async+{settings.redis_url}",
                implementation="redispy",
                key_prefix="chat-rate",
                **request_path_options(*timeouts),
            )
        # Sliding window counter: one small atomic script per send, and no burst of twice the
        # limit at a window edge as a fixed window would allow.
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        # While Redis cannot be reached the limit falls back to this process's own count (see
        # `check_send_rate`); without Redis it is the only one.
        self._local_limiter = (
            SlidingWindowCounterRateLimiter(MemoryStorage()) if settings.redis_url else None
        )
        self._send_rate = RateLimitItemPerSecond(
            settings.chat_rate_limit_messages, settings.chat_rate_limit_window_seconds
        )

    async def check_send_rate(self, account_id: uuid.UUID) -> None:
        """Count one send for the account; 429 with Retry-After past the limit.

        The count is shared through Redis. While Redis cannot be reached each process counts
        on its own (never "no limit"): a user is then held to the limit per process, at most
        the number of processes times the limit in all, and chat stays open for care.
        """
        key = str(account_id)
        try:
            allowed, stats = await self._hit(self._limiter, key)
        except (RedisError, OSError) as exc:
            assert self._local_limiter is not None  # only the Redis storage raises these
            RATE_LIMIT_FALLBACKS.inc()
            log.warning(
                "chat rate limit counted in this process: redis unreachable", error=str(exc)
            )
            allowed, stats = await self._hit(self._local_limiter, key)
        if allowed:
            return
        assert stats is not None
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(retry_after=retry_after)

    async def _hit(
        self, limiter: SlidingWindowCounterRateLimiter, key: str
    ) -> tuple[bool, WindowStats | None]:
        if await limiter.hit(self._send_rate, "send", key):
            return True, None
        return False, await limiter.get_window_stats(self._send_rate, "send", key)

    async def online(self, account_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Accounts with a live websocket on any process.

        With Redis, every process that holds a connection of a user is subscribed to the user's
        channel, so PUBSUB NUMSUB answers for all processes at once; and a crashed process's
        subscriptions vanish with its Redis connection, so no stale presence is left behind.
        """
        if not account_ids:
            return set()
        hub = self.hub
        if isinstance(hub, RedisHub) and self._redis is not None:
            ids = list(account_ids)
            try:
                counts = await self._redis.pubsub_numsub(*[hub.channel(a) for a in ids])
            except (RedisError, OSError) as exc:
                log.warning("chat presence unavailable; pushing to everyone", error=str(exc))
                return set()
            return {a for a, (_, n) in zip(ids, counts, strict=True) if int(n) > 0}
        return {a for a in account_ids if hub.local_connections(a) > 0}

    async def close(self) -> None:
        """Release the Redis connections."""
        if self._redis is not None:
            await self._redis.aclose()


def chat_runtime(state: State) -> ChatRuntime:
    """The application's chat runtime (made on first use, bound to the app's hub)."""
    runtime: ChatRuntime | None = getattr(state, "chat_runtime", None)
    if runtime is None or runtime.hub is not state.hub:
        runtime = ChatRuntime(state.settings, state.hub)
        state.chat_runtime = runtime
    return runtime
