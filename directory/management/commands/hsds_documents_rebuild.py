"""Rebuild the stored HSDS documents the HSDS API serves (every network, or one)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from directory.hsds.stored import service_documents_rebuild
from network.models import Network


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--network", help="Slug of one network (default: every network)")

    def handle(self, *args: Any, **options: Any) -> None:
        networks = list(Network.objects.order_by("slug"))
        if options["network"]:
            networks = [n for n in networks if n.slug == options["network"]]
            if not networks:
                raise CommandError(f"No network with slug {options['network']!r}.")
        for network in networks:

            def progress(done: int, total: int, slug: str = network.slug) -> None:
                self.stdout.write(f"\r{slug}: {done}/{total}", ending="\n" if done >= total else "")
                self.stdout.flush()

            written = service_documents_rebuild(network=network, progress=progress)
            self.stdout.write(f"{network.slug}: {written} HSDS documents")
        self.stdout.write(self.style.SUCCESS("HSDS documents rebuilt."))
