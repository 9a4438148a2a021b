from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from consent import services


class Command(BaseCommand):
    help = (
        "Move signed consent forms and Wagtail documents (signed agreements) uploaded before "
        "private storage out of the public media storage, under random names. Safe to re-run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Say what would move")

    def handle(self, *args: Any, **options: Any) -> None:
        report = services.private_files_move(dry_run=options["dry_run"])
        verb = "Would move" if options["dry_run"] else "Moved"
        self.stdout.write(f"{verb} {len(report.moved)} file(s) into private storage.")
        self.stdout.write(f"Already private: {report.already_private}.")
        for name in report.missing:
            self.stderr.write(f"Missing from both storages (row left as is): {name}")
        if not report.missing:
            self.stdout.write(self.style.SUCCESS("Nothing is left in public storage."))
