"""The access token: fetched once, shared, and refreshed once when WeChat refuses it - in one
process, and across processes through Redis (TEST_REDIS_URL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.notify.tokens import (
    AccessTokenCache,
    InProcessTokenCache,
    IssuedToken,
    RedisTokenCache,
)
from tests.fixtures import databases


class FakeStableToken:
    """Plays stable_token: one token until a forced refresh, counting the calls."""

    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.generation = 1

    async def __call__(self, force_refresh: bool) -> IssuedToken:
        await asyncio.sleep(0.01)  # long enough for concurrent callers to pile up
        self.calls.append(force_refresh)
        if force_refresh:
            self.generation += 1
        return IssuedToken(f"token-{self.generation}", 7200)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    assert databases.REDIS_URL is not None
    client = Redis.from_url(databases.REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


def in_process(fetch: FakeStableToken) -> list[AccessTokenCache]:
    return [InProcessTokenCache(fetch, margin=300)] * 2


def shared_by_redis(redis: Redis, fetch: FakeStableToken) -> list[AccessTokenCache]:
    # Two "processes": two caches over one Redis key.
    key = f"test:wechat-token:{uuid.uuid4().hex}"
    return [RedisTokenCache(redis, key, fetch, margin=300) for _ in range(2)]


async def _many_ask_at_once(caches: list[AccessTokenCache], fetch: FakeStableToken) -> None:
    tokens = await asyncio.gather(*(caches[i % 2].current() for i in range(10)))
    assert set(tokens) == {"token-1"}
    assert fetch.calls == [False]


async def _a_refusal_refreshes_once(caches: list[AccessTokenCache], fetch: FakeStableToken) -> None:
    stale = await caches[0].current()
    fresh = await asyncio.gather(*(caches[i % 2].replace(stale) for i in range(10)))
    assert set(fresh) == {"token-2"}
    assert fetch.calls == [False, True]  # one forced refresh for all of them
    assert await caches[1].current() == "token-2"


async def test_in_process_the_token_is_fetched_once() -> None:
    fetch = FakeStableToken()
    await _many_ask_at_once(in_process(fetch), fetch)


async def test_in_process_a_refused_token_is_refreshed_once() -> None:
    fetch = FakeStableToken()
    await _a_refusal_refreshes_once(in_process(fetch), fetch)


@pytest.mark.redis
async def test_through_redis_processes_share_one_fetch(redis: Redis) -> None:
    fetch = FakeStableToken()
    await _many_ask_at_once(shared_by_redis(redis, fetch), fetch)


@pytest.mark.redis
async def test_through_redis_a_refused_token_is_refreshed_once_for_all(redis: Redis) -> None:
    fetch = FakeStableToken()
    await _a_refusal_refreshes_once(shared_by_redis(redis, fetch), fetch)


async def test_a_token_is_fetched_again_before_it_expires() -> None:
    fetch = FakeStableToken()
    now = [0.0]
    cache = InProcessTokenCache(fetch, margin=300, clock=lambda: now[0])
    await cache.current()
    now[0] = 7200 - 301
    await cache.current()
    assert fetch.calls == [False]
    now[0] = 7200 - 299
    await cache.current()
    assert fetch.calls == [False, False]
