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

from uuid import uuid4

from django.core.cache import cache
from django.db import transaction


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
    cache.set(_key(name), uuid4().hex, None)
    transaction.on_commit(lambda: cache.set(_key(name), uuid4().hex, None))
