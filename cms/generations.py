"""Generations: a token in the shared cache that changes when some data changes, so that what
was computed from that data (in the cache, or kept in a process) is known to be out of date.

``generation_bump(name)`` inside the transaction that writes the data: the token changes at
once and again when the transaction commits, so nothing computed from the data before the
commit is taken for current after it. A process keeps what it computed beside the token it
computed it under (``generation(name)``), and computes again when the token differs. The first
reader of a name with no token (a cache emptied or restarted) gives it one; while the cache is
unreachable (``cms.cache``) the answer is ``""``, and a caller must not keep anything under it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar
from uuid import uuid4

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")


def _key(name: str) -> str:
    return f"generation:{name}"


def generation(name: str) -> str:
    """The current token of ``name``; "" only while the cache cannot be reached."""
    key = _key(name)
    token = cache.get(key)
    if token is None:
        cache.add(key, uuid4().hex, None)  # the first reader gives it one; a racer's may win
        token = cache.get(key)
    return str(token or "")


def generation_bump(name: str) -> None:
    """Give ``name`` a new token now and again once the current transaction commits."""
    generations_bump([name])


def generations_bump(names: Iterable[str]) -> None:
    """``generation_bump`` for each of ``names``, in one write to the cache each time."""
    keys = [_key(name) for name in dict.fromkeys(names)]
    if not keys:
        return

    def bump() -> None:
        cache.set_many({key: uuid4().hex for key in keys}, None)

    bump()
    transaction.on_commit(bump)


def kept_for(name: str, key: str, compute: Callable[[], T], timeout: int) -> T:
    """``compute()``, kept in the cache under ``key`` beside the token of ``name`` it was
    computed under, and computed again once that generation is bumped (or after ``timeout``
    seconds). A value still kept costs one read of the cache (the token and the value
    together), not two. While the cache cannot be reached, every call computes."""
    token_key = _key(name)
    found = cache.get_many([token_key, key])
    token, entry = found.get(token_key), found.get(key)
    if token is not None and isinstance(entry, tuple) and len(entry) == 2 and entry[0] == token:
        return entry[1]
    # The token is read before computing: a bump while computing leaves the value out of date.
    current = str(token) if token is not None else generation(name)
    value = compute()
    if current:
        cache.set(key, (current, value), timeout)
    return value
