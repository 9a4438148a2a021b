"""Service search in Elasticsearch: one index behind an alias, queried with elasticsearch-dsl.

The ``SearchDocument`` table stays the source of truth; this backend is sent copies of its rows
(``documents_index``/``documents_delete``) and can be rebuilt from it at any time (``rebuild``
loads a new concrete index, then moves the alias in one request, so search never sees an empty
or half-built index). Every hit is built from ``_source``: a search makes no database query
except one for the network's service-type names when the type facet has buckets.

The request bodies are built by pure functions (``build_index``, ``index_action`` and
``delete_action`` in ``elasticsearch_mapping``; ``build_search`` and ``build_suggest`` in
``elasticsearch_query``) and the responses read by others (``results_from_response`` and
``suggestions_from_response`` in ``elasticsearch_response``), so they can be checked without a
server; this module holds the backend that sends them. A dead, slow or failing cluster, or a
missing index, raises ``SearchBackendUnavailable`` and the database backend answers instead.

Settings (``HANDOFF_SEARCH_BACKENDS`` entry)::

    {"BACKEND": "search.backends.elasticsearch", "URLS": ["http://localhost:9200"],
     "INDEX": "handoff-services", "TIMEOUT": 2.0, "OPTIONS": {"api_key": "..."}}
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers

from directory.models import TaxonomyTerm
from network.models import Network

from ..models import SearchDocument
from ..query import SearchQuery
from ..results import SearchResults
from . import base
from .elasticsearch_mapping import DEFAULT_INDEX, build_index, delete_action, index_action
from .elasticsearch_query import build_search, build_suggest
from .elasticsearch_response import (
    BACKEND_NAME,
    facet_buckets,
    results_from_response,
    suggestions_from_response,
)

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0
WRITE_TIMEOUT = 30.0  # bulk loads and index administration may take longer than a query
WRITE_RETRIES = 2
BULK_CHUNK = 500


# --- errors --------------------------------------------------------------------------------


def is_unavailable(exc: Exception) -> bool:
    """Whether an error means "ask the database instead" rather than a mistake in a request."""
    if isinstance(exc, TransportError):  # refused, timed out, TLS, unreadable answer
        return True
    if isinstance(exc, NotFoundError):  # the index (alias) is missing
        return True
    if isinstance(exc, ApiError):
        return exc.status_code >= 500 or exc.status_code in (408, 429)
    return False


@contextmanager
def unavailable_on_failure(what: str) -> Iterator[None]:
    """Turn a down, overloaded or unbuilt cluster into ``SearchBackendUnavailable`` (chained)."""
    try:
        yield
    except (TransportError, ApiError) as exc:
        if is_unavailable(exc):
            raise base.SearchBackendUnavailable(f"Elasticsearch could not {what}: {exc}") from exc
        raise


def _failure_is_ignorable(item: Mapping[str, Any]) -> bool:
    """A delete of a document that is not there (any more) is not a failure."""
    (op_type, result), *_rest = item.items()
    return bool(
        op_type == "delete" and result.get("status") == 404 and result.get("result") == "not_found"
    )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- the backend ---------------------------------------------------------------------------


class SearchBackend(base.SearchBackend):
    """Search answered by Elasticsearch; any failure to answer falls back to the database."""

    name = BACKEND_NAME

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        urls = list(params.get("URLS") or [])
        if not urls:
            raise ImproperlyConfigured("The Elasticsearch search backend needs URLS.")
        self.alias: str = params.get("INDEX") or DEFAULT_INDEX
        self.timeout = float(params.get("TIMEOUT") or DEFAULT_TIMEOUT)
        options = {
            "request_timeout": self.timeout,
            "max_retries": 0,
            "retry_on_timeout": False,
            **(params.get("OPTIONS") or {}),
        }
        # Queries fail fast (no retries, short timeout); writes get longer and a few retries.
        self.client = Elasticsearch(urls, **options)
        self.write_client = self.client.options(
            request_timeout=max(self.timeout, WRITE_TIMEOUT),
            max_retries=WRITE_RETRIES,
            retry_on_timeout=True,
        )

    # Reading

    def search(self, query: SearchQuery, *, network: Network, now: datetime) -> SearchResults:
        request = build_search(query, network=network, now=now, index=self.alias)
        started = time.perf_counter()
        with unavailable_on_failure("search"):
            body = request.using(self.client).execute().to_dict()
        took_ms = (time.perf_counter() - started) * 1000
        type_names: dict[str, str] = {}
        if facet_buckets(body, "type"):
            type_names = dict(
                TaxonomyTerm.objects.filter(network=network).values_list("code", "name")
            )
        return results_from_response(
            body, query, network=network, now=now, type_names=type_names, took_ms=took_ms
        )

    def suggest(self, prefix: str, *, network: Network, limit: int = 8) -> list[base.Suggestion]:
        prefix = " ".join(prefix.split())[:100]
        if not prefix or limit <= 0:
            return []
        request = build_suggest(prefix, network=network, limit=limit, index=self.alias)
        with unavailable_on_failure("suggest"):
            body = request.using(self.client).execute().to_dict()
        return suggestions_from_response(body)[:limit]

    # Writing

    def documents_index(self, documents: Iterable[SearchDocument]) -> None:
        # require_alias: never let a write auto-create a concrete index named like the alias.
        actions = (index_action(doc, self.alias) for doc in documents)
        self._bulk(actions, what="index documents", require_alias=True)

    def documents_delete(self, keys: Iterable[str]) -> None:
        actions = (delete_action(key, self.alias) for key in keys)
        self._bulk(actions, what="delete documents", require_alias=True)

    def rebuild(
        self,
        documents: Iterable[SearchDocument],
        *,
        total: int,
        progress: base.Progress | None = None,
    ) -> None:
        """Load a new concrete index, move the alias to it in one request, drop the old ones."""
        name = f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        client = self.write_client
        with unavailable_on_failure("create an index"):
            build_index(name).create(using=client)
        switched = False
        previous: list[str] = []
        try:
            done = 0
            for chunk in _chunks(documents, BULK_CHUNK):
                self._bulk((index_action(doc, name) for doc in chunk), what="load the index")
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            with unavailable_on_failure("switch the index"):
                client.indices.refresh(index=name)
                previous = self._aliased_indices()
                client.indices.update_aliases(
                    actions=[
                        *({"remove": {"index": old, "alias": self.alias}} for old in previous),
                        {"add": {"index": name, "alias": self.alias}},
                    ]
                )
            switched = True
        finally:
            if not switched:
                self._delete_quietly([name])
        self._delete_quietly([old for old in previous if old != name])

    def _aliased_indices(self) -> list[str]:
        try:
            found = self.write_client.indices.get_alias(name=self.alias)
        except NotFoundError:
            return []
        return sorted(found.body)

    def _delete_quietly(self, names: Sequence[str]) -> None:
        if not names:
            return
        try:
            self.write_client.indices.delete(index=list(names), ignore_unavailable=True)
        except (TransportError, ApiError):
            logger.warning("Could not delete Elasticsearch indices %s", names, exc_info=True)

    def _bulk(self, actions: Iterable[dict[str, Any]], *, what: str, **kwargs: Any) -> None:
        with unavailable_on_failure(what):
            _ok, errors = helpers.bulk(
                self.write_client, actions, chunk_size=BULK_CHUNK, raise_on_error=False, **kwargs
            )
        items = errors if isinstance(errors, list) else []
        failures = [item for item in items if not _failure_is_ignorable(item)]
        if failures:
            logger.error("Elasticsearch could not %s: %s", what, failures[:5])
            raise base.SearchBackendUnavailable(
                f"Elasticsearch could not {what}: {len(failures)} action(s) failed, "
                f"the first: {failures[0]}"
            )
