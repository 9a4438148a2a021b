"""Import an HSDS 3.0 directory (Tabular Data Package folder or zip, or nested JSON).

Strict by default: any problem refuses the whole file. ``--skip-invalid`` imports every valid
record and reports the rest; ``--report FILE`` writes every problem and what was done about it
(repairs included) as CSV.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cms.bulk import gc_paused
from directory.hsds.importing import directory_import
from directory.hsds.reading import ReadError, read
from directory.hsds.records import REPAIRS, Finding, InvalidImport, report_csv_write
from network.models import Network


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="Folder or .zip with datapackage.json, or a .json file")
        parser.add_argument("--network", required=True, help="Slug of the network to import into")
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import every valid record and report the rest (default: refuse the whole "
            "file if anything is wrong)",
        )
        parser.add_argument(
            "--report",
            metavar="FILE",
            help="Write every problem and what was done about it to FILE (CSV)",
        )

    @gc_paused()
    def handle(self, *args: Any, **options: Any) -> None:
        network = Network.objects.filter(slug=options["network"]).first()
        if network is None:
            raise CommandError(f"No network with slug {options['network']!r}.")
        report_path = Path(options["report"]) if options["report"] else None
        if report_path is not None and not report_path.parent.is_dir():
            raise CommandError(f"{report_path.parent}: no such folder for the report.")
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
            report = directory_import(
                network=network,
                dataset=dataset,
                progress=progress,
                skip_invalid=options["skip_invalid"],
            )
        except InvalidImport as exc:
            for problem in exc.problems:
                self.stderr.write(f"error: {problem}")
            self._write_report(report_path, exc.findings)
            raise CommandError(
                f"{len(exc.problems)} problem(s) found; nothing was imported."
                + ("" if options["skip_invalid"] else " --skip-invalid imports the valid records.")
            ) from exc
        for warning in report.warnings:
            if warning not in dataset.warnings:
                self.stderr.write(self.style.WARNING(f"warning: {warning}"))
        for finding in report.findings:
            self.stderr.write(self.style.WARNING(f"{finding}"))
        self._write_report(report_path, report.findings)
        repaired = sum(f.action.startswith(REPAIRS) for f in report.findings)
        skipped = len(report.findings) - repaired
        if report.findings:
            self.stdout.write(f"{repaired} repair(s) made; {skipped} problem(s) skipped.")
        self.stdout.write(
            self.style.SUCCESS(
                report.summary()
                if report.changed
                else "Nothing changed: the directory is up to date."
            )
        )

    def _write_report(self, path: Path | None, findings: list[Finding]) -> None:
        if path is None:
            return
        with path.open("w", encoding="utf-8", newline="") as stream:
            report_csv_write(findings, stream)
        self.stdout.write(f"Report: {path} ({len(findings)} line(s))")
