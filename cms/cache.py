"""The Redis cache, degraded rather than broken while Redis is unreachable.

Everything kept in the cache can be computed again (geocoding results, search fragments,
dashboard snapshots, throttle counters), so a restart of Redis must not turn pages into errors:
while it is unreachable a read is a miss, a write is dropped and a counter starts again from one
(the throttles let requests through for that moment). Each outage is logged once, when it
starts; `/readyz` still reports the cache as failing, so an orchestrator knows."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
_LOG_EVERY_SECONDS = 60.0

T = TypeVar("T")


class ReusedRedisCacheClient(RedisCacheClient):
    """Django's Redis client, with one ``redis.Redis`` per server kept for every call.

    Django's builds a new ``redis.Redis`` on every call (its response callbacks copied into a
    fresh dict each time: a third of a cache read's CPU). A ``redis.Redis`` on a connection
    pool is safe to share between threads, and its pool starts afresh in a forked process."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # The pool Django's client keeps for the process (not in django-stubs: untyped here).
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:
            new = self._client(connection_pool=pool)  # type: ignore[attr-defined]
            client = self._clients[id(pool)] = new
        return client


class ResilientRedisCache(RedisCache):
    _last_logged = 0.0

    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient

    def _or(self, fallback: T, call: Callable[[], T]) -> T:
        try:
            return call()
        except UNREACHABLE as exc:
            now = time.monotonic()
            if now - ResilientRedisCache._last_logged > _LOG_EVERY_SECONDS:
                ResilientRedisCache._last_logged = now
                logger.warning("cache unreachable (%s): reads miss, writes are dropped", exc)
            return fallback

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._or(default, lambda: RedisCache.get(self, key, default, version))

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._or({}, lambda: RedisCache.get_many(self, keys, version))

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._or(False, lambda: RedisCache.has_key(self, key, version))

    def add(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> bool:
        # Unreachable: "added", so that a caller counting from here starts at one.
        return self._or(True, lambda: RedisCache.add(self, key, value, timeout, version))

    def set(self, key: Any, value: Any, timeout: Any = None, version: int | None = None) -> None:
        self._or(None, lambda: RedisCache.set(self, key, value, timeout, version))

    def set_many(self, data: Any, timeout: Any = None, version: int | None = None) -> list[Any]:
        return self._or([], lambda: RedisCache.set_many(self, data, timeout, version))

    def touch(self, key: Any, timeout: Any = None, version: int | None = None) -> bool:
        return self._or(False, lambda: RedisCache.touch(self, key, timeout, version))

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._or(False, lambda: RedisCache.delete(self, key, version))

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._or(None, lambda: RedisCache.delete_many(self, keys, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._or(delta, lambda: RedisCache.incr(self, key, delta, version))

    def clear(self) -> None:
        self._or(None, lambda: RedisCache.clear(self))
