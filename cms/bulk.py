"""Many rows at once: inserting plain rows fast (COPY on PostgreSQL, multi-row VALUES
elsewhere), and asking for rows by hundreds of keys (one array parameter on PostgreSQL).

Shared by the directory import, the HSDS documents and the search index, which write and read
hundreds of thousands of child rows that nobody needs as model instances; and what such jobs
need around them: statistics that count the rows a transaction wrote, the garbage collector
paused while they hold millions of objects.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
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


class _AnyOf(models.Lookup):
    """``lhs = ANY(%s)``: the keys as one array parameter (PostgreSQL)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> Any:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, list(self.rhs))


def keys_in(rows: models.QuerySet[Any], column: str, keys: Iterable[Any]) -> models.QuerySet[Any]:
    """``rows`` whose ``column`` (a field of the queryset's own table: its key or a foreign
    key's attname) is one of ``keys``.

    On PostgreSQL the keys go as one array (``= ANY(%s)``): as ``IN (%s, %s, ...)``, binding
    and quoting hundreds of parameters, query after query, costs more than running the query.
    Asked by the key of a model that extends another (a page: ``directory_servicepage`` joined
    to ``wagtailcore_page``), the same keys bind each parent table's key too: the planner does
    not carry an array condition across the join, and scanned the whole parent table for every
    batch. Elsewhere, ``IN``."""
    keys = list(keys)
    if connections[rows.db].vendor != "postgresql":
        return rows.filter(**{f"{column}__in": keys})
    meta = rows.model._meta
    field = meta.get_field(column)
    if field.model is not rows.model:
        raise ValueError(f"{column} is not a column of {meta.db_table}")
    rows = rows.filter(_AnyOf(models.F(field.attname), keys))
    if field.primary_key:
        quote = connections[rows.db].ops.quote_name
        for parent in meta.get_parent_list():
            # Django resolves the parent's key to the child's (the join's other side), so the
            # parent's column is named here; a filter on one of its NOT NULL columns makes sure
            # the parent is joined even when nothing else reads it.
            parent_meta = parent._meta
            column_sql = f"{quote(parent_meta.db_table)}.{quote(parent_meta.pk.column)}"
            joined = next(
                f.name
                for f in parent_meta.local_concrete_fields
                if not f.primary_key and not f.null
            )
            rows = rows.filter(
                RawSQL(f"{column_sql} = ANY(%s)", (keys,), output_field=models.BooleanField()),  # noqa: S611
                **{f"{joined}__isnull": False},
            )
    return rows


def statistics_refresh(
    written: Mapping[type[models.Model], int], *, least: int = 1000
) -> list[str]:
    """Refresh the planner's statistics, inside the current transaction, of the tables it has
    grown the most: those it wrote ``least`` rows or more to, more than the table held when
    last analyzed (never analyzed, empty, or at least doubled). Returns their names.

    PostgreSQL plans from statistics that do not count rows written by a transaction that has
    not committed, and autovacuum only looks after the commit. A large import into a new or
    small directory then reads its own rows back (the HSDS documents, batch after batch) with
    plans made for empty tables: a whole-table scan per batch. ANALYZE counts the
    transaction's own rows. It holds a lock that a concurrent ANALYZE of the same table waits
    for until this transaction ends, which is why only tables that grew this much are
    analyzed. Nothing is done elsewhere than on PostgreSQL."""
    tables = {
        model._meta.db_table: count
        for model, count in written.items()
        if count >= least and connections[router.db_for_write(model)].vendor == "postgresql"
    }
    if not tables:
        return []
    connection = connections[router.db_for_write(next(iter(written)))]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, (SELECT reltuples FROM pg_class WHERE oid = to_regclass(name)) "
            "FROM unnest(%s::text[]) AS name",
            [[quote(table) for table in tables]],
        )
        held = dict(cursor.fetchall())
        grown = [
            table
            for table, count in sorted(tables.items())
            if held.get(quote(table)) is None or held[quote(table)] < count
        ]
        if grown:
            # Identifiers from model metadata, quoted.
            cursor.execute(f"ANALYZE {', '.join(quote(table) for table in grown)}")
    return grown


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for a bulk job (a context manager, or a
    decorator: ``@gc_paused()``).

    A feed sync or an import holds millions of small objects at once (the decoded pages, their
    rows, the records) and allocates millions more; the collector walks every live object
    again and again as the heap grows, which cost a third of a 20,000-service sync. Memory is
    still freed by reference counting; the cycles made during the job are collected when it
    ends, from the youngest generation only, where everything allocated meanwhile is."""
    if not gc.isenabled():  # nested, or paused by the caller: theirs to resume
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)
