"""``cms.bulk``: plain rows written as the ORM would write them, and rows asked for by many
keys, on whichever database the suite runs (PostgreSQL: COPY and ``= ANY``; SQLite: VALUES
and ``IN``)."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from cms.bulk import keys_in, rows_insert
from directory.models import ServicePage, TaxonomyTerm
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
