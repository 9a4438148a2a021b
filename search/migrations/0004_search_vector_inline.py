"""PostgreSQL only: keep the search vector in the row, not in the TOAST table.

Every text match and every rank reads the vector. Stored out of line (the default once a row
passes about 2 kB) each read is a TOAST index lookup and chunk fetch, repeated for the match and
for the rank: the search benchmark spent most of its SQL time there. ``STORAGE MAIN`` still
compresses the vector but moves the longer display texts out of line first. Rows already stored
are rewritten once so that they follow the new rule.
"""

from django.db import migrations

TABLE = "handoff_search_searchdocument"
FORWARD = [
    f"ALTER TABLE {TABLE} ALTER COLUMN search_vector SET STORAGE MAIN",
    # A changed value is stored anew (an unchanged one would keep its TOAST pointer).
    f"UPDATE {TABLE} SET search_vector = search_vector || ''::tsvector "
    "WHERE search_vector IS NOT NULL",
]
BACKWARD = [f"ALTER TABLE {TABLE} ALTER COLUMN search_vector SET STORAGE EXTENDED"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("handoff_search", "0003_search_vector_trigger")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
