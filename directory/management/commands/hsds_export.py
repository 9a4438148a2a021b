"""Export a network's live directory as HSDS 3.0 (Tabular Data Package or nested JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from directory.hsds.writing import directory_tables, write_json, write_package
from network.models import Network


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", help="Folder to write into (created if missing)")
        parser.add_argument("--network", required=True)
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args: Any, **options: Any) -> None:
        network = Network.objects.filter(slug=options["network"]).first()
        if network is None:
            raise CommandError(f"No network with slug {options['network']!r}.")
        folder = Path(options["directory"])
        if folder.exists() and not folder.is_dir():
            raise CommandError(f"{folder} exists and is not a folder.")
        tables = directory_tables(network)
        if options["format"] == "json":
            written = [write_json(tables, folder / "services.json")]
        else:
            written = write_package(tables, folder, name=f"handoff-{network.slug}")
        counts = ", ".join(f"{len(rows)} {table}" for table, rows in sorted(tables.items()))
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(written)} file(s) to {folder}: {counts}"))
