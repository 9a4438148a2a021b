"""Rebuild the search index from the published directory (every network, or one)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from network.models import Network
from search.backends import SearchBackendUnavailable, search_backends
from search.models import SearchDocument
from search.services import documents_for_networks, search_index_rebuild


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", help="Slug of one network (default: every network)")

    def _bar(self, label: str) -> Any:
        def progress(done: int, total: int) -> None:
            filled = 40 * done // max(total, 1)
            self.stdout.write(
                f"\r{label} [{'#' * filled}{'.' * (40 - filled)}] {done}/{total}",
                ending="\n" if done >= total else "",
            )
            self.stdout.flush()

        return progress

    def handle(self, *args: Any, **options: Any) -> None:
        networks = list(Network.objects.order_by("slug"))
        if options["network"]:
            networks = [n for n in networks if n.slug == options["network"]]
            if not networks:
                raise CommandError(f"No network with slug {options['network']!r}.")
        for network in networks:
            written = search_index_rebuild(
                network=network, progress=self._bar(f"{network.slug}: services")
            )
            self.stdout.write(f"{network.slug}: {written} documents in the database index")
        # Another backend holds every network in one index, and a rebuild replaces all of it.
        every_network = list(Network.objects.order_by("slug"))
        for backend in search_backends():
            if backend.name == "database":
                continue
            total = SearchDocument.objects.count()
            try:
                backend.rebuild(
                    documents_for_networks(every_network),
                    total=total,
                    progress=self._bar(f"{backend.name}: documents"),
                )
            except SearchBackendUnavailable as exc:
                raise CommandError(
                    f"The {backend.name} backend could not be rebuilt ({exc}); the database "
                    "index is current and answers searches meanwhile."
                ) from exc
            self.stdout.write(f"{backend.name}: {total} documents indexed")
        self.stdout.write(self.style.SUCCESS("Search index rebuilt."))
