"""Import an HSDS 3.0 directory (Tabular Data Package folder or zip, or nested JSON)."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from directory.hsds.importing import directory_import
from directory.hsds.reading import ReadError, read
from directory.hsds.records import InvalidImport
from network.models import Network


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Folder or .zip with datapackage.json, or a .json file")
        parser.add_argument("--network", required=True, help="Slug of the network to import into")

    def handle(self, *args: Any, **options: Any) -> None:
        network = Network.objects.filter(slug=options["network"]).first()
        if network is None:
            raise CommandError(f"No network with slug {options['network']!r}.")
        try:
            dataset = read(options["path"])
        except ReadError as exc:
            raise CommandError(str(exc)) from exc
        for warning in dataset.warnings:
            self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        show_bar = self.stdout.isatty() if hasattr(self.stdout, "isatty") else False

        def progress(done: int, total: int) -> None:
            width = 40
            filled = width * done // max(total, 1)
            line = f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} services"
            self.stdout.write(line, ending="\n" if done == total else "")
            if show_bar:
                sys.stdout.flush()

        try:
            report = directory_import(network=network, dataset=dataset, progress=progress)
        except InvalidImport as exc:
            for problem in exc.problems:
                self.stderr.write(f"error: {problem}")
            raise CommandError(
                f"{len(exc.problems)} problem(s) found; nothing was imported."
            ) from exc
        for warning in report.warnings:
            if warning not in dataset.warnings:
                self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        self.stdout.write(
            self.style.SUCCESS(
                report.summary()
                if report.changed
                else "Nothing changed: the directory is up to date."
            )
        )
