"""PostgreSQL only: the search extensions and the GIN indexes full-text and trigram search use.

On SQLite (the embedded demo) these operations do nothing; its backend scans the rows instead.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS search_doc_vector ON handoff_search_searchdocument "
    "USING gin (search_vector)",
    "CREATE INDEX IF NOT EXISTS search_doc_service_name_trgm ON handoff_search_searchdocument "
    "USING gin (service_name gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS search_term_word_trgm ON handoff_search_searchterm "
    "USING gin (word gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS search_term_word_trgm",
    "DROP INDEX IF EXISTS search_doc_service_name_trgm",
    "DROP INDEX IF EXISTS search_doc_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("handoff_search", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
