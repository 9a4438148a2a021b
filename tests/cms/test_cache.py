"""The Redis cache while Redis is unreachable: misses and dropped writes, never an error."""

from __future__ import annotations

import logging
import multiprocessing
import socket
from typing import Any

import pytest

from cms.cache import ResilientRedisCache


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def cache_at(url: str) -> ResilientRedisCache:
    return ResilientRedisCache(url, {"OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}})


def test_an_unreachable_redis_is_a_miss_and_a_dropped_write_with_one_warning(caplog):
    cache = cache_at(f"redis://127.0.0.1:{closed_port()}/0")
    ResilientRedisCache._last_logged = 0.0
    with caplog.at_level(logging.WARNING, logger="cms.cache"):
        assert cache.get("key", "default") == "default"
        assert cache.get_many(["a", "b"]) == {}
        assert cache.has_key("key") is False
        cache.set("key", "value")
        cache.set_many({"a": 1})
        assert cache.add("counter", 1) is True
        assert cache.incr("counter") == 1  # a throttle counts from one again
        assert cache.delete("key") is False
        cache.delete_many(["a"])
        assert cache.touch("key") is False
        cache.clear()
    warnings = [r for r in caplog.records if r.name == "cms.cache"]
    assert len(warnings) == 1  # once per outage, not once per call
    assert "unreachable" in warnings[0].getMessage()


def test_a_reachable_redis_behaves_as_django_s_redis_cache():
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            pass
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    cache = cache_at("redis://127.0.0.1:6379/12")
    cache.clear()
    cache.set("key", {"a": 1})
    assert cache.get("key") == {"a": 1}
    assert cache.add("counter", 1) is True
    assert cache.add("counter", 1) is False
    assert cache.incr("counter") == 2
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")  # Django's own behaviour is kept when Redis answers
    cache.clear()


def _redis_or_skip() -> None:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            pass
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")


def _in_a_forked_child(cache: ResilientRedisCache, queue: Any) -> None:
    cache.set("child", "written after the fork")
    queue.put(cache.get("child"))


def test_one_redis_client_serves_every_call_and_a_forked_process_gets_its_own_connections():
    """Django's client builds a ``redis.Redis`` for every call; ours keeps one per server. A
    process forked after the parent spoke to Redis (gunicorn's workers, preloaded) reads and
    writes on connections of its own."""
    _redis_or_skip()
    cache = cache_at("redis://127.0.0.1:6379/12")
    cache.clear()
    client = cache._cache.get_client()
    assert cache._cache.get_client() is client
    assert cache._cache.get_client(write=True) is client
    cache.set("parent", 1)
    assert cache.get("parent") == 1
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_in_a_forked_child, args=(cache, queue))
    child.start()
    child.join(20)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == "written after the fork"
    assert cache.get("child") == "written after the fork"
    assert cache.get("parent") == 1  # the parent's connection still answers
    cache.clear()
