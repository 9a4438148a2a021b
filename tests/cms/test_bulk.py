"""``cms.bulk``: plain rows written as the ORM would write them, and rows asked for by many
keys, on whichever database the suite runs (PostgreSQL: COPY and ``= ANY``; SQLite: VALUES
and ``IN``)."""

from __future__ import annotations

import gc
import uuid
import weakref

import pytest
from django.db import connection

from cms.bulk import gc_paused, keys_in, rows_insert, statistics_refresh
from directory.models import ServicePage, TaxonomyTerm
from tests.directory.factories import STANDARD, directory_build
from tests.network.factories import network_make

pytestmark = pytest.mark.django_db


def test_rows_insert_writes_given_and_prepared_values_alike() -> None:
    network = network_make("Bulk Network")
    given = uuid.uuid4()
    rows_insert(
        TaxonomyTerm,
        [
            # Values of the types the fast path passes through...
            {"network_id": network.pk, "hsds_id": given, "code": "a", "name": "Alpha"},
            # ...and values the fields must prepare: a model instance for the foreign key, an
            # id as text, a number where text is stored, a dict for JSON.
            {
                "network": network,
                "hsds_id": str(uuid.UUID(int=7)),
                "code": 42,
                "name": "Beta",
                "hsds_extra": {"language": "es"},
            },
        ],
    )
    terms = {t.name: t for t in TaxonomyTerm.objects.filter(network=network)}
    alpha, beta = terms["Alpha"], terms["Beta"]
    assert (beta.code, beta.name, beta.hsds_id) == ("42", "Beta", uuid.UUID(int=7))
    assert beta.hsds_extra == {"language": "es"}
    assert (alpha.code, alpha.name, alpha.hsds_id) == ("a", "Alpha", given)
    assert alpha.taxonomy == "Service types"  # a missing field takes its default
    assert alpha.description == ""


def test_keys_in_gives_the_rows_of_the_keys_only() -> None:
    network = network_make("Keys Network")
    terms = [
        TaxonomyTerm.objects.create(network=network, code=f"c{n}", name=f"Term {n}")
        for n in range(5)
    ]
    wanted = [terms[0].pk, terms[3].pk, 999_999]
    assert set(keys_in(TaxonomyTerm.objects.all(), "id", wanted)) == {terms[0], terms[3]}
    assert list(keys_in(TaxonomyTerm.objects.all(), "network_id", [])) == []
    by_network = keys_in(TaxonomyTerm.objects.all(), "network_id", [network.pk])
    assert by_network.count() == 5


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the array form is PostgreSQL's; elsewhere IN"
)
def test_keys_in_refuses_a_column_of_another_table() -> None:
    # ``path`` is wagtailcore_page's: naming it on the service table would be an SQL error.
    with pytest.raises(ValueError, match="path"):
        keys_in(ServicePage.objects.all(), "path", ["0001"])


def test_keys_in_a_page_model_by_its_key_gives_its_pages_only() -> None:
    """A service page's key is its Wagtail page's too: asked by it, the rows are the pages of
    the keys, however many tables the page model spans."""
    network = network_make("Pages Network")
    directory_build(network, STANDARD)
    pages = list(ServicePage.objects.order_by("pk"))
    wanted = [pages[0].pk, pages[-1].pk, 999_999]
    found = keys_in(ServicePage.objects.all(), "page_ptr_id", wanted)
    assert sorted(found.values_list("pk", "title")) == sorted(
        (p.pk, p.title) for p in (pages[0], pages[-1])
    )
    # Reading only the service table's own key still joins the page table the keys bind.
    assert set(found.values_list("pk", flat=True)) == {pages[0].pk, pages[-1].pk}
    if connection.vendor == "postgresql":
        # Both tables' keys are bound, so that each is read through its own primary key.
        sql = str(found.query)
        assert '"directory_servicepage"."page_ptr_id" = ANY(' in sql
        assert '"wagtailcore_page"."id" = ANY(' in sql


def test_statistics_refresh_analyzes_only_the_tables_a_transaction_grew() -> None:
    network = network_make("Statistics Network")
    rows_insert(
        TaxonomyTerm,
        [{"network": network, "code": f"c{n}", "name": f"Term {n}"} for n in range(1200)],
    )
    # Under the threshold, or not grown: nothing to do.
    assert statistics_refresh({TaxonomyTerm: 999}) == []
    if connection.vendor != "postgresql":
        assert statistics_refresh({TaxonomyTerm: 1200}) == []  # the planner's own business
        return
    assert statistics_refresh({TaxonomyTerm: 1200}) == ["directory_taxonomyterm"]
    with connection.cursor() as cursor:
        # ANALYZE counted the rows this (test) transaction wrote, uncommitted.
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'directory_taxonomyterm'")
        assert cursor.fetchone()[0] >= 1200
    # Analyzed with them: no longer more than the table held.
    assert statistics_refresh({TaxonomyTerm: 1200}) == []


class _Node:
    """An object that can be in a reference cycle and be watched (weakref)."""

    other: _Node | None = None


def test_gc_paused_pauses_the_collector_and_collects_the_cycles_made_meanwhile() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: the outer one resumes
            assert not gc.isenabled()
        assert not gc.isenabled()
        first, second = _Node(), _Node()
        first.other, second.other = second, first  # a cycle: reference counting can't free it
        watched = weakref.ref(first)
        del first, second
        assert watched() is not None
    assert gc.isenabled()
    assert watched() is None  # collected when the job ended

    @gc_paused()
    def failing() -> None:
        assert not gc.isenabled()
        raise RuntimeError("the job failed")

    with pytest.raises(RuntimeError):
        failing()
    assert gc.isenabled()  # resumed whatever happened
