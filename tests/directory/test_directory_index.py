"""The public directory page (/directory/): the network's agencies A to Z with letter jumps,
browsable by need, each linking to its services; only this network's agencies; bad input is a
400 with a message; the query count does not grow with the agencies."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.public_pages import index_letter
from tests.directory.factories import Spec, directory_build, directory_make, other_directory_make
from tests.network.factories import tenant_make

URL = "/directory/"


@pytest.fixture
def alpha(db):
    tenant = tenant_make("Alpha")
    directory_make(tenant)
    return tenant


@pytest.fixture
def bravo(db):
    tenant = tenant_make("Bravo")
    other_directory_make(tenant)
    return tenant


def host(tenant) -> str:
    return tenant.network.site.hostname


def agency_names(html: str) -> list[str]:
    return re.findall(r"<a href=\"[^\"]*\"><strong>(.*?)</strong></a>", html)


def test_index_letter_files_accents_and_digits():
    assert index_letter("Éxito Center") == "E"
    assert index_letter("  ayuda") == "A"
    assert index_letter("211 Humboldt") == "#"
    assert index_letter("") == "#"


@pytest.mark.django_db
def test_the_directory_lists_the_networks_agencies_a_to_z_with_their_services(client, alpha):
    response = client.get(URL, HTTP_HOST=host(alpha))
    assert response.status_code == 200
    html = response.content.decode()
    assert agency_names(html) == [
        "Aging Well Center",
        "Bay Housing Partnership",
        "Crescent Food Share",
        "Harbor Community Services",
        "Redwood Transit Help",
        "Waterfront Night Shelter",
    ]
    for letter in "ABCHRW":
        assert f'href="#letter-{letter}"' in html
        assert f'id="letter-{letter}"' in html
    assert 'href="#letter-D"' not in html  # no agency under D
    # Each agency links to its services.
    assert 'href="/directory/waterfront-night-shelter/overnight-shelter-beds/"' in html
    assert 'href="/directory/waterfront-night-shelter/family-shelter-rooms/"' in html
    assert 'href="/directory/waterfront-night-shelter/"' in html


@pytest.mark.django_db
def test_the_directory_is_browsable_by_need(client, alpha):
    html = client.get(URL, HTTP_HOST=host(alpha)).content.decode()
    # Every need that has services here is offered, with how many.
    assert "?need=food-insecurity" in html
    assert "?need=homelessness" in html
    assert "?need=elder-abuse" not in html  # no service here helps with it
    food = client.get(URL, {"need": "food-insecurity"}, HTTP_HOST=host(alpha))
    assert food.status_code == 200
    page = food.content.decode()
    assert agency_names(page) == [
        "Aging Well Center",
        "Crescent Food Share",
        "Harbor Community Services",
    ]
    assert "Weekly Food Pantry" in page
    assert "Overnight Shelter Beds" not in page
    assert 'aria-current="page"' in page


@pytest.mark.django_db
@pytest.mark.parametrize("need", ["food", "<script>alert(1)</script>", "x" * 500])
def test_an_unknown_need_is_a_400_with_a_message_not_a_500(client, alpha, need):
    response = client.get(URL, {"need": need}, HTTP_HOST=host(alpha))
    assert response.status_code == 400
    html = response.content.decode()
    assert "There is no need called" in html
    assert "<script>alert(1)</script>" not in html
    assert "Harbor Community Services" in html  # the whole directory, to choose from


@pytest.mark.django_db
def test_each_network_lists_only_its_own_agencies(client, alpha, bravo):
    mine = client.get(URL, HTTP_HOST=host(alpha)).content.decode()
    theirs = client.get(URL, HTTP_HOST=host(bravo)).content.decode()
    assert "Bravo Rental Assistance" not in mine
    assert "Bravo Rental Assistance" in theirs
    assert "Waterfront Night Shelter" not in theirs
    assert "Redwood Transit Help" not in theirs


@pytest.mark.django_db
def test_unpublished_agencies_and_services_are_not_listed(client, alpha):
    from directory.models import AgencyPage, ServicePage

    AgencyPage.objects.get(title="Aging Well Center").unpublish()
    ServicePage.objects.get(title="Family Shelter Rooms").unpublish()
    html = client.get(URL, HTTP_HOST=host(alpha)).content.decode()
    assert "Aging Well Center" not in html
    assert "Family Shelter Rooms" not in html
    assert "Overnight Shelter Beds" in html


@pytest.mark.django_db
@pytest.mark.parametrize("params", [{}, {"need": "food-insecurity"}])
def test_the_query_count_does_not_grow_with_the_agencies(client, db, params):
    tenant = tenant_make("Counted")

    def grow(first: int, last: int) -> None:
        directory_build(
            tenant.network,
            [
                Spec(
                    f"Pantry {n}",
                    "Food.",
                    categories=["food-insecurity"],
                    agency=f"Agency {chr(ord('A') + n)}",
                )
                for n in range(first, last)
            ],
        )

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL, params, HTTP_HOST=host(tenant)).status_code == 200
        return len(captured.captured_queries)

    grow(0, 2)
    count()  # the first request fills per-process caches (the site's root paths)
    small = count()
    grow(2, 9)
    assert count() == small
