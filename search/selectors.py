"""Searching the directory: the configured backend, and the database when it cannot answer."""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils.translation import gettext as _

from network.models import Network

from .backends import SearchBackendUnavailable, Suggestion, get_search_backend
from .backends.database import SearchBackend as DatabaseBackend
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
