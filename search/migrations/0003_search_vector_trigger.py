"""PostgreSQL only: the weighted search vector is computed as each row is written.

A trigger instead of an UPDATE after the insert: every row is written once, so a rebuild
leaves no dead copy of the table behind, and bulk COPY needs no second pass.
"""

from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION handoff_search_vector() RETURNS trigger AS $$
    BEGIN
        NEW.search_vector :=
            setweight(to_tsvector('english', coalesce(NEW.names, '')), 'A')
            || setweight(to_tsvector('english', coalesce(NEW.body, '')), 'B');
        RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS handoff_search_vector ON handoff_search_searchdocument",
    """
    CREATE TRIGGER handoff_search_vector
    BEFORE INSERT OR UPDATE OF names, body ON handoff_search_searchdocument
    FOR EACH ROW EXECUTE FUNCTION handoff_search_vector()
    """,
    # Rows written before the trigger existed.
    "UPDATE handoff_search_searchdocument SET names = names WHERE search_vector IS NULL",
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS handoff_search_vector ON handoff_search_searchdocument",
    "DROP FUNCTION IF EXISTS handoff_search_vector()",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("handoff_search", "0002_postgresql_indexes")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
