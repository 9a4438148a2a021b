"""Many rows at once: inserting plain rows fast (COPY on PostgreSQL, multi-row VALUES
elsewhere), and asking for rows by hundreds of keys (one array parameter on PostgreSQL).

Shared by the directory import, the HSDS documents and the search index, which write and read
hundreds of thousands of child rows that nobody needs as model instances.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db import connections, models, router
from django.db.models.expressions import RawSQL
from django.utils import timezone

# Fields whose preparation gives back a value of these types unchanged (and None as None), so
# that the bulk path can skip it: most of the cost of writing plain rows otherwise.
_INTEGERS = (
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)
_TEXTS = (models.CharField, models.TextField, models.SlugField, models.EmailField, models.URLField)


def _given_types(field: Any, connection: Any) -> tuple[type, ...]:
    """The value types ``field`` writes as given (exact classes only: a subclass may prepare
    differently); any other value is prepared by the field."""
    while isinstance(field, models.ForeignKey):
        field = field.target_field
    kind = type(field)
    if kind in _INTEGERS:
        return (int,)
    if kind in _TEXTS:
        return (str,)
    if kind is models.BooleanField:
        return (bool,)
    if kind is models.UUIDField and connection.features.has_native_uuid_field:
        return (uuid.UUID,)
    return ()


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

    given = [(f, _given_types(f, connection)) for f in fields]

    def prepared(row: dict[str, Any]) -> list[Any]:
        values = []
        for field, types in given:
            item = value(row, field)
            values.append(
                item
                if types and (item is None or type(item) in types)
                else field.get_db_prep_save(item, connection)
            )
        return values

    table = quote(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY is PostgreSQL's bulk path; identifiers are from model metadata, quoted.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(prepared(row))
            return
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params = [item for row in chunk for item in prepared(row)]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "  # noqa: S608  (quoted identifiers)
                f"VALUES {', '.join([row_sql] * len(chunk))}",
                params,
            )


def keys_in(rows: models.QuerySet[Any], column: str, keys: Iterable[Any]) -> models.QuerySet[Any]:
    """``rows`` whose ``column`` (a field of the queryset's own table: its key or a foreign
    key's attname) is one of ``keys``.

    On PostgreSQL the keys go as one array (``= ANY(%s)``): as ``IN (%s, %s, ...)``, binding
    and quoting hundreds of parameters, query after query, costs more than running the query.
    Elsewhere, ``IN``."""
    keys = list(keys)
    if connections[rows.db].vendor != "postgresql":
        return rows.filter(**{f"{column}__in": keys})
    meta = rows.model._meta
    field = meta.get_field(column)
    if field.model is not rows.model:
        raise ValueError(f"{column} is not a column of {meta.db_table}")
    quote = connections[rows.db].ops.quote_name
    condition = f"{quote(meta.db_table)}.{quote(field.column)} = ANY(%s)"
    # Identifiers from model metadata, quoted; the keys are a parameter.
    return rows.filter(RawSQL(condition, (keys,), output_field=models.BooleanField()))  # noqa: S611
