"""What the PostgreSQL migrations set up for the database backend (skipped on SQLite)."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from search.models import SearchDocument
from tests.directory.factories import STANDARD, directory_build

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="PostgreSQL only: DATABASE_URL points at SQLite",
    ),
]


def _scalar(sql: str, params: list | None = None):  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def test_search_vector_is_kept_in_the_row():
    # 'm' (MAIN): compressed in the row; the text match and the rank read no TOAST table.
    storage = _scalar(
        "SELECT attstorage FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attname = 'search_vector'",
        [SearchDocument._meta.db_table],
    )
    assert storage == "m"


def test_trigger_fills_the_weighted_vector_on_write(tenant_a):
    directory_build(tenant_a.network, STANDARD[:1])
    document = SearchDocument.objects.get(service_name="Weekly Food Pantry")
    vector = _scalar(
        f"SELECT search_vector::text FROM {SearchDocument._meta.db_table} WHERE id = %s",  # noqa: S608
        [document.pk],
    )
    assert re.search(r"'pantri':[\d,A]*\d+A", vector)  # the name, stemmed, at weight A
    assert re.search(r"'groceri':\d+(?![A\d])", vector)  # the description, at weight B (shown bare)


def test_text_and_trigram_indexes_exist():
    indexes = {
        name
        for (name,) in _rows(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s",
            [SearchDocument._meta.db_table],
        )
    }
    assert "search_doc_vector" in indexes
    assert _scalar("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'") == 1


def _rows(sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
