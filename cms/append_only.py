"""Append-only tables in the database itself: an UPDATE or DELETE of a row is refused by a
trigger, whoever sends it (the ORM, ``QuerySet.update()``, raw SQL, a shell on the server).

``AppendOnlyModel.save()``/``delete()`` refuse in Python; these triggers refuse in the database.

- PostgreSQL: a ``BEFORE UPDATE OR DELETE ... FOR EACH ROW`` trigger raises. ``TRUNCATE`` fires
  no row trigger, so Django's ``flush`` (which truncates) still empties a test database.
- SQLite: two triggers ``RAISE(ABORT)`` when ``handoff_append_only_enforced()`` is true. Django
  registers that function on each of its connections (``connection_created``); it is false only
  inside ``append_only_suspended()``, which the ``flush`` command uses, because SQLite's flush
  deletes row by row. A connection without the function (the ``sqlite3`` shell) fails the
  statement anyway: refused either way.

Triggers are installed by the apps' migrations and re-installed after every ``migrate``
(``post_migrate``), because SQLite drops a table's triggers when a migration rebuilds the table.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

SQLITE_FUNCTION = "handoff_append_only_enforced"
PG_FUNCTION = "handoff_append_only_refuse"

_suspended = threading.local()


@contextmanager
def append_only_suspended() -> Iterator[None]:
    """Let this thread's SQLite statements delete append-only rows (only ``flush`` uses it)."""
    _suspended.active = True
    try:
        yield
    finally:
        _suspended.active = False


def _enforced() -> int:
    return 0 if getattr(_suspended, "active", False) else 1


def sqlite_function_register(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """``connection_created`` receiver: the function the SQLite triggers ask."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FUNCTION, 0, _enforced)


def trigger_name(table: str, operation: str = "") -> str:
    return f"{table}_append_only{'_' + operation if operation else ''}"


def append_only_install(connection: BaseDatabaseWrapper, table: str) -> None:
    """Refuse UPDATE and DELETE on ``table`` from now on (idempotent)."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"""
                CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger
                LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
                        USING ERRCODE = 'restrict_violation';
                END;
                $$
                """
            )
            cursor.execute(
                "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = %s::regclass",
                [trigger_name(table), quoted],
            )
            if cursor.fetchone() is None:
                cursor.execute(
                    f"CREATE TRIGGER {connection.ops.quote_name(trigger_name(table))} "
                    f"BEFORE UPDATE OR DELETE ON {quoted} "
                    f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
                )
        elif connection.vendor == "sqlite":
            for operation in ("UPDATE", "DELETE"):
                name = connection.ops.quote_name(trigger_name(table, operation.lower()))
                cursor.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {operation} ON {quoted} "
                    f"WHEN {SQLITE_FUNCTION}() "
                    f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only: "
                    f"{operation} refused'); END"
                )


def append_only_uninstall(connection: BaseDatabaseWrapper, table: str) -> None:
    """Undo ``append_only_install`` (for a migration's reverse)."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            name = connection.ops.quote_name(trigger_name(table))
            cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {quoted}")
        elif connection.vendor == "sqlite":
            for operation in ("update", "delete"):
                name = connection.ops.quote_name(trigger_name(table, operation))
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def append_only_operation(table: str) -> Any:
    """A migration operation that installs the triggers on ``table`` (reversible)."""
    from django.db import migrations

    def forward(apps: Any, schema_editor: Any) -> None:
        append_only_install(schema_editor.connection, table)

    def backward(apps: Any, schema_editor: Any) -> None:
        append_only_uninstall(schema_editor.connection, table)

    return migrations.RunPython(forward, backward, elidable=False)


def append_only_tables() -> list[str]:
    """The tables of every installed concrete ``AppendOnlyModel``."""
    from django.apps import apps

    from .models import AppendOnlyModel

    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, AppendOnlyModel) and not model._meta.abstract
    )


def append_only_reinstall(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver: put back triggers a rebuilt SQLite table lost (once per
    migrate: sent for the cms app only)."""
    from django.db import connections

    connection = connections[using]
    existing = set(connection.introspection.table_names())
    for table in append_only_tables():
        if table in existing:
            append_only_install(connection, table)
