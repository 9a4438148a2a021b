"""Django's ``flush``, able to empty append-only tables on SQLite (which deletes row by row; on
PostgreSQL flush truncates, and TRUNCATE fires no row trigger anyway)."""

from typing import Any

from django.core.management.commands import flush

from cms.append_only import append_only_suspended


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with append_only_suspended():
            super().handle(**options)
