"""Inserting many plain rows fast: COPY on PostgreSQL, multi-row VALUES elsewhere.

Shared by the directory import and the search index, which both write hundreds of thousands of
child rows that nobody needs back as model instances.
"""

from __future__ import annotations

from typing import Any

from django.db import connections, models, router
from django.utils import timezone


def rows_insert(
    model: type[models.Model], rows: list[dict[str, Any]], *, fields: list[Any] | None = None
) -> None:
    """Insert plain rows in bulk, each value prepared by its field as the ORM would.

    ``rows`` map field names (or attnames) to values; missing fields take their defaults.
    ``fields`` are the columns to write (default: every concrete field but the primary key).
    Much cheaper than building model instances for tens of thousands of rows.
    """
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    if fields is None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(f.column)) for f in fields)
    # Multi-row VALUES: one statement per batch, under SQLite's limit of 32766 parameters.
    batch = max(1, min(500, 30000 // len(fields)))
    row_sql = f"({', '.join(['%s'] * len(fields))})"
    now = timezone.now()

    def value(row: dict[str, Any], field: Any) -> Any:
        if field.attname in row:
            return row[field.attname]
        if field.name in row:
            item = row[field.name]
            return item.pk if field.is_relation and item is not None else item
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return now
        return field.get_default()  # per row: callable defaults (uuid4) must differ

    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is PostgreSQL's bulk path; identifiers are from model metadata, quoted.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([f.get_db_prep_save(value(row, f), connection) for f in fields])
            return
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params = [
                f.get_db_prep_save(value(row, f), connection) for row in chunk for f in fields
            ]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608  (quoted identifiers)
                f"VALUES {', '.join([row_sql] * len(chunk))}",
                params,
            )
