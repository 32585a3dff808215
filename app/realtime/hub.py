"""Fan-out of realtime events to every live websocket connection of a user, on every process.

`InProcessHub` serves a single instance. `RedisHub` publishes each event on the user's channel
(`rt:user:<uuid>`); every process subscribes to the channels of the users it holds connections
for and hands what arrives to those connections. Delivery is best effort: an event that cannot
be delivered is dropped and the client catches up by syncing when it (re)connects.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Mapping, Sequence
from enum import IntEnum
from typing import Any, Protocol

import pydantic_core
import structlog
from prometheus_client import Counter as MetricCounter
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from tenacity import (
    RetryCallState,
    retry,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)

from app.config import Settings

log = structlog.get_logger(__name__)

PUBLISH_FAILURES = MetricCounter(
    "realtime_publish_failures_total", "Realtime events dropped because Redis was unreachable"
)


class CloseCode(IntEnum):
    """Websocket close codes of the realtime gateway; after any of them the client reconnects."""

    lifetime_reached = 4000
    auth_failed = 4401
    heartbeat_timeout = 4408
    send_queue_overflow = 4429
    # RFC 6455 7.4.1: a frame the server will not take (nested too deeply), or one socket more
    # than the user may hold; and a frame too big to process.
    policy_violation = 1008
    message_too_big = 1009
    unavailable = 1013  # RFC 6455 "try again later": events cannot be delivered right now


class RealtimeUnavailable(Exception):
    """Events cannot reach new connections right now (Redis is unreachable)."""


class Connection(Protocol):
    """What the hub needs from one live websocket connection."""

    def deliver(self, message: str) -> None:
        """Queue one JSON-encoded event for the client; must never block."""

    def close_soon(self, code: int, reason: str) -> None:
        """Ask the connection to close with `code`; the client reconnects and resyncs."""


def encode_event(event: Mapping[str, Any]) -> str:
    """The JSON text of an event; UUIDs, datetimes, decimals and enums become JSON strings."""
    if not isinstance(event.get("type"), str):
        raise ValueError("a realtime event needs a string 'type'")
    return pydantic_core.to_json(event).decode()


class RealtimeHub(ABC):
    """Delivers events to every live connection of a user, whichever process holds it."""

    def __init__(self) -> None:
        self._connections: dict[uuid.UUID, set[Connection]] = {}
        self._sockets: dict[uuid.UUID, set[str]] = {}

    async def start(self) -> None:
        """Begin fan-out; called once by the application's lifespan."""
        return None

    async def stop(self) -> None:
        """Stop fan-out and release its resources."""
        return None

    @abstractmethod
    async def publish(self, user_id: uuid.UUID, event: Mapping[str, Any]) -> None:
        """Deliver `event` to every live connection of `user_id`; transport failures only log."""

    async def publish_many(self, user_ids: Sequence[uuid.UUID], event: Mapping[str, Any]) -> None:
        """Deliver `event` to each of `user_ids`, in that order; transport failures only log."""
        for user_id in user_ids:
            await self.publish(user_id, event)

    async def register(self, user_id: uuid.UUID, connection: Connection) -> None:
        """Deliver the user's events to `connection` from now on; raises RealtimeUnavailable."""
        self._connections.setdefault(user_id, set()).add(connection)
        try:
            await self._watch(user_id)
        except Exception:
            await self.unregister(user_id, connection)
            raise

    async def unregister(self, user_id: uuid.UUID, connection: Connection) -> None:
        """Stop delivering to `connection` (idempotent)."""
        connections = self._connections.get(user_id)
        if connections is None or connection not in connections:
            return
        connections.discard(connection)
        if not connections:
            del self._connections[user_id]
            await self._unwatch(user_id)

    async def readiness(self) -> dict[str, str]:
        """The state of each part fan-out needs: "ok", or what is wrong with it."""
        return {"redis": "not_configured", "realtime": "ok"}

    async def acquire_socket(
        self, user_id: uuid.UUID, socket_id: str, limit: int, ttl_seconds: float
    ) -> bool:
        """Count one more open socket of the user, unless `limit` are open already (False).
        Counted in this process; the Redis hub counts over every process."""
        held = self._sockets.setdefault(user_id, set())
        if socket_id not in held and len(held) >= limit:
            return False
        held.add(socket_id)
        return True

    async def renew_socket(self, user_id: uuid.UUID, socket_id: str, ttl_seconds: float) -> None:
        """The socket is still open (the Redis hub's count forgets sockets not renewed)."""
        return None

    async def release_socket(self, user_id: uuid.UUID, socket_id: str) -> None:
        """The socket closed (idempotent)."""
        held = self._sockets.get(user_id)
        if held is not None:
            held.discard(socket_id)
            if not held:
                del self._sockets[user_id]

    def local_connections(self, user_id: uuid.UUID) -> int:
        """How many live connections of `user_id` this process holds."""
        return len(self._connections.get(user_id, ()))

    def _deliver_locally(self, user_id: uuid.UUID, message: str) -> None:
        for connection in tuple(self._connections.get(user_id, ())):
            connection.deliver(message)

    async def _watch(self, user_id: uuid.UUID) -> None:
        """Make sure events published to `user_id` reach this process (every registration)."""
        return None

    async def _unwatch(self, user_id: uuid.UUID) -> None:
        """This process holds no connection of `user_id` any more."""
        return None


class InProcessHub(RealtimeHub):
    """Fan-out inside this process only: for a single instance, development and tests."""

    async def publish(self, user_id: uuid.UUID, event: Mapping[str, Any]) -> None:
        """Deliver `event` to the user's connections in this process."""
        self._deliver_locally(user_id, encode_event(event))


def request_path_options(timeout_seconds: float, connect_timeout_seconds: float) -> dict[str, Any]:
    """Options of a Redis client awaited inside requests: a Redis that stopped answering costs
    the request one short timeout, never retried; a connection error (a pooled connection from
    before a Redis restart fails its first command) is retried once, at once."""
    return {
        "socket_timeout": timeout_seconds,
        "socket_connect_timeout": connect_timeout_seconds,
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    }


# The open sockets of one user: a sorted set of socket id -> lease expiry (ms, Redis's clock,
# so processes need not agree on the time). Lapsed leases (a crashed process) are dropped
# first; ARGV[2] = 0 renews without checking the limit.
_SOCKET_LEASE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local limit = tonumber(ARGV[2])
if limit > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
    if redis.call('ZCARD', KEYS[1]) >= limit then
        return 0
    end
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""


def _log_reconnect(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "realtime hub cannot reach redis; retrying", attempt=state.attempt_number, error=str(error)
    )


class RedisHub(RealtimeHub):
    """Fan-out through Redis pub/sub: a channel per user and one listener task per process."""

    def __init__(
        self,
        url: str,
        *,
        channel_prefix: str = "rt:",
        client_name: str = "chronic-care-realtime",
        ping_seconds: float = 10.0,
        subscribe_timeout_seconds: float = 5.0,
        publish_timeout_seconds: float = 2.0,
        connect_timeout_seconds: float = 2.0,
    ) -> None:
        super().__init__()
        self._user_prefix = f"{channel_prefix}user:"
        # A standing subscription keeps the listener's connection in subscriber mode, so reads
        # are valid even while this process holds no connection.
        self._control_channel = f"{channel_prefix}control"
        # The listener's client never retries inside redis-py: a silent reconnect would hide
        # a lost subscription (and the events published meanwhile) from `_connection_lost`;
        # the listener reconnects with its own backoff instead.
        self._redis: Redis = Redis.from_url(
            url,
            decode_responses=True,
            client_name=client_name,
            socket_connect_timeout=connect_timeout_seconds,
            socket_timeout=2.0,
            retry=Retry(NoBackoff(), 0),
        )
        # Publishing is awaited by business code and must fail fast (see
        # `request_path_options`). Without its one retry after a connection error, the first
        # event after a Redis restart would be lost to a client whose fresh socket says it is
        # in sync. A retried PUBLISH may arrive twice; clients key events by id and seq.
        self._publisher: Redis = Redis.from_url(
            url,
            decode_responses=True,
            client_name=f"{client_name}:publish",
            **request_path_options(publish_timeout_seconds, connect_timeout_seconds),
        )
        self._socket_prefix = f"{channel_prefix}sockets:"
        self._lease_script = self._publisher.register_script(_SOCKET_LEASE)
        self._ping_seconds = ping_seconds
        self._subscribe_timeout = subscribe_timeout_seconds
        self._pubsub: PubSub | None = None
        # Per channel: resolves True once Redis confirms the subscription, False if it is lost.
        self._subscriptions: dict[str, asyncio.Future[bool]] = {}
        # SUBSCRIBE commands not yet confirmed, per channel: a subscribe/unsubscribe/subscribe
        # burst must wait for the last confirmation, not the first.
        self._unconfirmed: Counter[str] = Counter()
        # FIFO: SUBSCRIBE/UNSUBSCRIBE reach Redis in the order the bookkeeping above was done.
        self._commands = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None

    def channel(self, user_id: uuid.UUID) -> str:
        """The Redis channel carrying the events of `user_id`."""
        return f"{self._user_prefix}{user_id}"

    @property
    def listening(self) -> bool:
        """Whether the listener holds a subscribed Redis connection (new sockets can register)."""
        return self._pubsub is not None

    async def readiness(self) -> dict[str, str]:
        """Redis answers a PING within the request-path timeout, and the listener is up."""
        try:
            await self._publisher.ping()
            redis = "ok"
        except (RedisError, OSError):
            redis = "unreachable"
        return {"redis": redis, "realtime": "ok" if self.listening else "not_listening"}

    async def acquire_socket(
        self, user_id: uuid.UUID, socket_id: str, limit: int, ttl_seconds: float
    ) -> bool:
        """Take one of the user's `limit` socket leases, shared by every process; a lease not
        renewed within `ttl_seconds` (its process died) lapses. RealtimeUnavailable without
        Redis."""
        return await self._lease(user_id, socket_id, limit, ttl_seconds)

    async def renew_socket(self, user_id: uuid.UUID, socket_id: str, ttl_seconds: float) -> None:
        """Extend the socket's lease (kept even if the user is at the limit meanwhile)."""
        try:
            await self._lease(user_id, socket_id, 0, ttl_seconds)
        except RealtimeUnavailable as exc:
            # The listener notices a lost Redis and closes the sockets; nothing to add here.
            log.warning("realtime socket lease not renewed", error=str(exc.__cause__))

    async def release_socket(self, user_id: uuid.UUID, socket_id: str) -> None:
        """Give the socket's lease back (else it lapses by itself)."""
        try:
            await self._publisher.zrem(self._sockets_key(user_id), socket_id)
        except (RedisError, OSError) as exc:
            log.warning("realtime socket lease not released; it lapses", error=str(exc))

    def _sockets_key(self, user_id: uuid.UUID) -> str:
        return f"{self._socket_prefix}{user_id}"

    async def _lease(
        self, user_id: uuid.UUID, socket_id: str, limit: int, ttl_seconds: float
    ) -> bool:
        ttl_ms = max(1, round(ttl_seconds * 1000))
        try:
            taken = await self._lease_script(
                keys=[self._sockets_key(user_id)], args=[socket_id, limit, ttl_ms]
            )
        except (RedisError, OSError) as exc:
            raise RealtimeUnavailable("redis is unreachable") from exc
        return bool(taken)

    async def start(self) -> None:
        """Start the listener; it connects (and reconnects) to Redis in the background."""
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen_forever(), name="realtime-listener")

    async def stop(self) -> None:
        """Stop the listener and close the Redis connections."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await self._redis.aclose()
        await self._publisher.aclose()

    async def publish(self, user_id: uuid.UUID, event: Mapping[str, Any]) -> None:
        """Publish `event` on the user's channel; if Redis is unreachable, log and drop it."""
        await self.publish_many([user_id], event)

    async def publish_many(self, user_ids: Sequence[uuid.UUID], event: Mapping[str, Any]) -> None:
        """Publish `event` on each user's channel in one pipelined round trip, so a Redis that
        stopped answering costs the caller one socket timeout, not one per recipient; if Redis
        is unreachable, log and drop it."""
        message = encode_event(event)
        if not user_ids:
            return
        try:
            async with self._publisher.pipeline(transaction=False) as pipe:
                for user_id in user_ids:
                    pipe.publish(self.channel(user_id), message)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            PUBLISH_FAILURES.inc(len(user_ids))
            log.warning(
                "realtime event dropped: redis unreachable",
                user_ids=[str(user_id) for user_id in user_ids],
                event_type=event["type"],
                error=str(exc),
            )

    async def _watch(self, user_id: uuid.UUID) -> None:
        channel = self.channel(user_id)
        confirmed = self._subscriptions.get(channel)
        if confirmed is None:
            pubsub = self._pubsub
            if pubsub is None:
                raise RealtimeUnavailable("redis is unreachable")
            confirmed = asyncio.get_running_loop().create_future()
            self._subscriptions[channel] = confirmed
            self._unconfirmed[channel] += 1
            try:
                async with self._commands:
                    await pubsub.subscribe(channel)
            except (RedisError, OSError) as exc:
                raise RealtimeUnavailable("redis is unreachable") from exc
        try:
            async with asyncio.timeout(self._subscribe_timeout):
                # Shielded: other registrations of the same user await the same future.
                subscribed = await asyncio.shield(confirmed)
        except TimeoutError as exc:
            raise RealtimeUnavailable("redis did not confirm the subscription") from exc
        if not subscribed:
            raise RealtimeUnavailable("redis connection lost")

    async def _unwatch(self, user_id: uuid.UUID) -> None:
        channel = self.channel(user_id)
        confirmed = self._subscriptions.pop(channel, None)
        pubsub = self._pubsub
        if confirmed is None or pubsub is None:
            return  # not subscribed on the current Redis connection
        if not confirmed.done():
            confirmed.set_result(False)
        try:
            async with self._commands:
                await pubsub.unsubscribe(channel)
        except (RedisError, OSError) as exc:
            # Harmless: the listener notices a broken connection and starts a fresh one.
            log.warning("realtime unsubscribe failed", channel=channel, error=str(exc))

    async def _listen_forever(self) -> None:
        while True:
            pubsub = await self._open_pubsub()
            self._pubsub = pubsub
            log.info("realtime hub listening on redis")
            try:
                await self._relay(pubsub)
            except (RedisError, OSError) as exc:
                log.warning("realtime hub lost redis; reconnecting", error=str(exc))
            finally:
                self._connection_lost()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    @retry(
        # Jittered so that processes do not reconnect in lockstep after a Redis restart.
        wait=wait_exponential(multiplier=0.1, max=5.0) + wait_random(0, 0.5),
        retry=retry_if_exception_type((RedisError, OSError)),
        before_sleep=_log_reconnect,
    )
    async def _open_pubsub(self) -> PubSub:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._control_channel)
        except BaseException:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
            raise
        return pubsub

    async def _relay(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        heard_at = loop.time()
        while True:
            message = await pubsub.get_message(timeout=self._ping_seconds)
            if message is None:
                # Quiet: ping, and give up on a connection that stays silent (half-open TCP).
                if loop.time() - heard_at > 1.5 * self._ping_seconds:
                    raise RedisConnectionError("redis stopped answering pings")
                await pubsub.ping()
                continue
            heard_at = loop.time()
            self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "message" and isinstance(channel, str) and channel.startswith(self._user_prefix):
            try:
                user_id = uuid.UUID(channel.removeprefix(self._user_prefix))
            except ValueError:
                return
            self._deliver_locally(user_id, message["data"])
        elif kind == "subscribe":
            self._unconfirmed[channel] -= 1
            if self._unconfirmed[channel] <= 0:
                del self._unconfirmed[channel]
                confirmed = self._subscriptions.get(channel)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(True)

    def _connection_lost(self) -> None:
        self._pubsub = None
        for confirmed in self._subscriptions.values():
            if not confirmed.done():
                confirmed.set_result(False)
        self._subscriptions.clear()
        self._unconfirmed.clear()
        # Events published meanwhile are lost: close every connection so its client
        # reconnects and resyncs instead of silently missing them.
        for connections in self._connections.values():
            for connection in tuple(connections):
                connection.close_soon(CloseCode.unavailable, "realtime_unavailable")


def create_hub(settings: Settings) -> RealtimeHub:
    """Redis pub/sub when REDIS_URL is set (several processes), in-process otherwise."""
    if settings.redis_url:
        return RedisHub(
            settings.redis_url,
            publish_timeout_seconds=settings.redis_timeout_seconds,
            connect_timeout_seconds=settings.redis_connect_timeout_seconds,
        )
    return InProcessHub()
