"""The stored HSDS documents compressed with LZ4 on PostgreSQL, where the server has it.

A document row holds two JSON texts of several kilobytes; PostgreSQL compresses such values
(TOAST) with pglz by default, which costs about as much as building them when a feed sync or
a rebuild writes 20,000 at once. LZ4 compresses and decompresses several times faster, for a
slightly larger table. Rows already written keep their compression until rewritten
(``manage.py hsds_documents_rebuild``). SQLite, and a server built without LZ4, are left
as they are.
"""

from django.db import migrations

COLUMNS = ("full", "summary")


def _lz4_available(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
        return cursor.fetchone() is not None


def _compression_set(schema_editor, method: str) -> None:
    if not _lz4_available(schema_editor):
        return
    table = schema_editor.quote_name("directory_servicedocument")
    for column in COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE {table} ALTER COLUMN {schema_editor.quote_name(column)} "
            f"SET COMPRESSION {method}"
        )


def lz4_use(apps, schema_editor) -> None:
    _compression_set(schema_editor, "lz4")


def lz4_undo(apps, schema_editor) -> None:
    _compression_set(schema_editor, "default")


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0017_taxonomy_term_hsds_extra"),
    ]

    operations = [migrations.RunPython(lz4_use, lz4_undo)]
