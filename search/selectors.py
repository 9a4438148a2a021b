"""Searching the directory: the configured backend, and the database when it cannot answer."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime

from django.core.cache import cache
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext as _

from cms.generations import generation
from network.models import Network

from .backends import SearchBackendUnavailable, Suggestion, get_search_backend
from .backends.database import SearchBackend as DatabaseBackend
from .models import SEARCH_INDEX, SearchTag, TagKind
from .query import SearchQuery
from .results import SearchResults

logger = logging.getLogger(__name__)
_database = DatabaseBackend({})


def service_search(*, network: Network, query: SearchQuery, now: datetime) -> SearchResults:
    """One page of services at locations in ``network`` matching ``query``.

    Answered by the configured backend; if it is unreachable or times out, by the database
    backend, and ``fallback_reason`` says so. Never raises for a backend outage.
    """
    backend = get_search_backend()
    if backend.name == _database.name:
        return backend.search(query, network=network, now=now)
    try:
        return backend.search(query, network=network, now=now)
    except SearchBackendUnavailable as exc:
        logger.warning(
            "search backend %s unavailable: %s", backend.name, type(exc.__cause__).__name__
        )
        results = _database.search(query, network=network, now=now)
        results.fallback_reason = _(
            "The main search service is not answering; these results come from the directory "
            "database."
        )
        return results


def service_suggest(*, network: Network, prefix: str, limit: int = 8) -> list[Suggestion]:
    """Autocomplete entries (service names, categories) for what was typed, in one network."""
    backend = get_search_backend()
    try:
        return backend.suggest(prefix, network=network, limit=limit)
    except SearchBackendUnavailable:
        return _database.suggest(prefix, network=network, limit=limit)


def network_categories(*, network: Network, codes: Iterable[str]) -> set[str]:
    """Which of ``codes`` (need categories) some service of ``network`` meets.

    Kept in the cache under the index's generation (``search.services``: every index write
    bumps it), since the answer changes only when the index does."""
    codes = sorted(set(codes))
    if not codes:
        return set()
    current = generation(SEARCH_INDEX)
    asked = hashlib.sha256(",".join(codes).encode()).hexdigest()[:16]
    key = f"network-categories:{network.pk}:{current}:{asked}"
    kept = cache.get(key) if current else None
    if kept is not None:
        return set(kept)
    met = _network_categories(network, codes)
    if current:
        cache.set(key, sorted(met), NETWORK_CATEGORIES_KEPT_SECONDS)
    return met


NETWORK_CATEGORIES_KEPT_SECONDS = 3600


def _network_categories(network: Network, codes: list[str]) -> set[str]:
    """In one query: one index probe per code (``search_tag_lookup``: kind, value, document)
    that stops at the first document of the network, rather than every category tag of the
    network made distinct (150 ms at 20,000 services)."""
    met = Network.objects.filter(pk=network.pk).values_list(
        *(
            Exists(
                SearchTag.objects.filter(
                    kind=TagKind.CATEGORY, value=code, document__network=OuterRef("pk")
                )
            )
            for code in codes
        )
    )
    row = met.first()
    return {code for code, found in zip(codes, row or (), strict=False) if found}
