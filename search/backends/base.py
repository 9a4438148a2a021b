"""What every search backend does, and the errors that make search fall back to the database."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from network.models import Network

from ..models import SearchDocument
from ..query import SearchQuery
from ..results import SearchResults

Progress = Callable[[int, int], None]


class SearchBackendUnavailable(Exception):
    """The backend could not answer (down, timed out, refused); the database answers instead."""


@dataclass(frozen=True)
class Suggestion:
    """An autocomplete entry: a service name or a category, and the search it leads to."""

    label: str
    kind: str  # "service" or "category"
    value: str  # the text to search for, or the category code


class SearchBackend(ABC):
    """A place that answers ``SearchQuery``s for one network at a time.

    The ``SearchDocument`` table is the source of truth; backends other than the database are
    sent copies of its rows (``documents_index``), and must never return another network's rows.
    """

    name: str = ""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params

    @abstractmethod
    def search(self, query: SearchQuery, *, network: Network, now: datetime) -> SearchResults:
        """One page of hits with facets and total; SearchBackendUnavailable if it cannot."""

    @abstractmethod
    def suggest(self, prefix: str, *, network: Network, limit: int = 8) -> list[Suggestion]:
        """Service names and categories that complete what was typed."""

    def documents_index(self, documents: Iterable[SearchDocument]) -> None:  # noqa: B027
        """Add or replace these documents (the database backend's table is already current)."""

    def documents_delete(self, keys: Iterable[str]) -> None:  # noqa: B027
        """Remove documents by key."""

    def rebuild(  # noqa: B027
        self, documents: Iterable[SearchDocument], *, total: int, progress: Progress | None = None
    ) -> None:
        """Replace the whole index with these documents, without emptying search meanwhile."""
