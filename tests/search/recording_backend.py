"""A search backend for tests: records what it is sent, or behaves as if it were down."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from network.models import Network
from search.backends.base import SearchBackend as BaseSearchBackend
from search.backends.base import SearchBackendUnavailable, Suggestion
from search.models import SearchDocument
from search.query import SearchQuery
from search.results import SearchResults


class SearchBackend(BaseSearchBackend):
    name = "recording"
    indexed: ClassVar[list[str]] = []
    deleted: ClassVar[list[str]] = []
    down: ClassVar[bool] = False

    @classmethod
    def reset(cls, *, down: bool = False) -> None:
        cls.indexed.clear()
        cls.deleted.clear()
        cls.down = down

    def _check(self) -> None:
        if self.down:
            raise SearchBackendUnavailable("recording backend is down") from ConnectionError()

    def search(self, query: SearchQuery, *, network: Network, now: datetime) -> SearchResults:
        self._check()
        return SearchResults(query=query, hits=[], total=0, facets={}, backend=self.name)

    def suggest(self, prefix: str, *, network: Network, limit: int = 8) -> list[Suggestion]:
        self._check()
        return []

    def documents_index(self, documents: Iterable[SearchDocument]) -> None:
        self._check()
        self.indexed.extend(d.key for d in documents)

    def documents_delete(self, keys: Iterable[str]) -> None:
        self._check()
        self.deleted.extend(keys)

    def rebuild(
        self, documents: Iterable[SearchDocument], *, total: int, progress: Any = None
    ) -> None:
        self._check()
        self.indexed.extend(d.key for d in documents)
