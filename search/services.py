"""Writes to the search index: refresh the documents of some services, or rebuild a network.

The ``SearchDocument`` table is the source every backend indexes from: the database backend
queries it directly, the Elasticsearch backend is sent a copy of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from cms.bulk import rows_insert
from cms.generations import generation_bump
from directory.models import ServicePage
from directory.selectors import directory_pages
from network.models import Network

from .documents import BuiltDocument, documents_build, vocabulary
from .models import (
    SEARCH_INDEX,
    SearchClosure,
    SearchDocument,
    SearchOpening,
    SearchTag,
    SearchTerm,
)

BATCH = 500
Progress = Callable[[int, int], None]


@dataclass
class RefreshReport:
    """What a refresh wrote: documents now in the index, and the keys that left it."""

    written: int
    removed_keys: list[str]


def _write(built: list[BuiltDocument]) -> list[int]:
    """Insert documents (COPY on PostgreSQL), their child rows, vectors and any new words."""
    rows_insert(SearchDocument, [_row(b.document) for b in built], fields=_INSERT_FIELDS)
    keys = [b.document.key for b in built]
    pks: dict[str, int] = {}
    for start in range(0, len(keys), 2000):  # under SQLite's parameter limit
        pks.update(
            SearchDocument.objects.filter(key__in=keys[start : start + 2000]).values_list(
                "key", "pk"
            )
        )
    tags: list[dict[str, Any]] = []
    openings: list[dict[str, Any]] = []
    closures: list[dict[str, Any]] = []
    for item in built:
        pk = pks[item.document.key]
        tags += [{"document_id": pk, "kind": k, "value": v} for k, v in item.tags]
        openings += [
            {"document_id": pk, "start_weekday": w, "start_minute": a, "end_minute": b}
            for w, a, b in item.openings
        ]
        closures += [{"document_id": pk, "start_date": a, "end_date": b} for a, b in item.closures]
    rows_insert(SearchTag, tags)
    rows_insert(SearchOpening, openings)
    rows_insert(SearchClosure, closures)
    ids = list(pks.values())
    for network_id, found in vocabulary(built).items():
        _vocabulary_add(network_id, found)
    return ids


# The search vector is PostgreSQL's to compute (a trigger, migration 0003); the bulk insert
# stamps ``indexed_at``.
_INSERT_FIELDS = [
    f
    for f in SearchDocument._meta.concrete_fields
    if not f.primary_key and f.name != "search_vector"
]
_ROW_FIELDS = [f for f in _INSERT_FIELDS if not getattr(f, "auto_now", False)]


def _row(document: SearchDocument) -> dict[str, Any]:
    """A new document as a plain row."""
    return {f.attname: getattr(document, f.attname) for f in _ROW_FIELDS}


def _vocabulary_add(network_id: int, found: set[str]) -> None:
    """Add the words the network's vocabulary does not have yet."""
    words = sorted(found)
    known: set[str] = set()
    for start in range(0, len(words), 2000):  # under SQLite's parameter limit
        known.update(
            SearchTerm.objects.filter(
                network_id=network_id, word__in=words[start : start + 2000]
            ).values_list("word", flat=True)
        )
    SearchTerm.objects.bulk_create(
        [SearchTerm(network_id=network_id, word=w) for w in words if w not in known],
        batch_size=2000,
        ignore_conflicts=True,  # a concurrent refresh may add the same word
    )


@transaction.atomic
def search_documents_refresh(*, service_ids: Iterable[int]) -> RefreshReport:
    """Rebuild the index rows of these services from their published pages.

    Services that are no longer searchable (unpublished, deleted, inactive) leave the index.
    Returns how many documents were written and the keys that are gone, for other backends.
    """
    ids = sorted(set(service_ids))
    written, removed = 0, []
    generation_bump(SEARCH_INDEX)
    for start in range(0, len(ids), BATCH):
        batch = ids[start : start + BATCH]
        before = set(
            SearchDocument.objects.filter(service_id__in=batch).values_list("key", flat=True)
        )
        SearchDocument.objects.filter(service_id__in=batch).delete()
        built, _searchable = documents_build(batch)
        _write(built)
        written += len(built)
        removed += sorted(before - {b.document.key for b in built})
    return RefreshReport(written=written, removed_keys=removed)


def network_service_ids(*, network: Network) -> list[int]:
    """Ids of every service page in the network's directory (published or not)."""
    return list(
        directory_pages(network=network)
        .type(ServicePage)
        .order_by("path")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def search_index_rebuild(*, network: Network, progress: Progress | None = None) -> int:
    """Rebuild the network's whole index in one transaction; returns the documents written.

    Searches keep reading the old rows until the transaction commits.
    """
    ids = network_service_ids(network=network)
    generation_bump(SEARCH_INDEX)
    SearchDocument.objects.filter(network=network).delete()
    SearchTerm.objects.filter(network=network).delete()
    written = 0
    for start in range(0, len(ids), BATCH):
        built, _searchable = documents_build(ids[start : start + BATCH])
        _write(built)
        written += len(built)
        if progress is not None:
            progress(min(start + BATCH, len(ids)), len(ids))
    return written


def documents_for_keys(keys: Iterable[str]) -> Iterator[SearchDocument]:
    """Documents by key, in batches (what another backend is sent)."""
    keys = list(keys)
    for start in range(0, len(keys), BATCH):
        yield from SearchDocument.objects.filter(key__in=keys[start : start + BATCH])


def documents_of_services(service_ids: Iterable[int]) -> list[SearchDocument]:
    return list(SearchDocument.objects.filter(service_id__in=list(service_ids)).order_by("key"))


def documents_for_networks(networks: Iterable[Network]) -> Iterator[SearchDocument]:
    """Every document of these networks, streamed in key order."""
    return (
        SearchDocument.objects.filter(network__in=list(networks))
        .order_by("key")
        .iterator(chunk_size=2000)
    )


def search_documents_push(*, service_ids: Iterable[int], removed_keys: Iterable[str]) -> int:
    """Send these services' rows to every backend other than the database; returns rows sent.

    Raises SearchBackendUnavailable when one cannot be reached, so the task retries later.
    """
    from .backends import search_backends

    documents = documents_of_services(service_ids)
    removed = list(removed_keys)
    for backend in search_backends():
        if backend.name == "database":
            continue
        if removed:
            backend.documents_delete(removed)
        if documents:
            backend.documents_index(documents)
    return len(documents)


def search_index_changed(*, service_ids: Iterable[int]) -> None:
    """Refresh these services in the index once the current transaction commits."""
    from . import tasks

    ids = sorted(set(service_ids))
    if ids:
        transaction.on_commit(lambda: tasks.search_documents_refresh.delay(ids))
