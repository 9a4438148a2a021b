"""An index only PostgreSQL builds."""

from __future__ import annotations

from typing import Any

from django.db import models

# What the schema editor runs instead on another database: a statement that changes nothing
# (it runs the SQL it is given, and ``sqlmigrate`` prints it).
NOTHING = "SELECT 1"


class PostgreSQLIndex(models.Index):
    """An ``Index`` built on PostgreSQL and skipped elsewhere: SQLite (the embedded default)
    refuses ``NULLS LAST`` in an index, and its small databases sort a page without one."""

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return NOTHING
        return super().create_sql(model, schema_editor, using=using, **kwargs)

    def remove_sql(self, model: Any, schema_editor: Any, **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return NOTHING
        return super().remove_sql(model, schema_editor, **kwargs)
