"""The search pages: public per network site, clinic staff only in the workspace, never an
error page for a bad parameter or a search backend outage, and a constant query count."""

from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from network.models import Role
from search.models import SearchDocument
from tests.conftest import cold_queries
from tests.directory.factories import EUREKA, Spec, directory_build
from tests.search.recording_backend import SearchBackend as Recording

# The views only read: both networks' directories are built once for the module.
pytestmark = pytest.mark.kept_directories

PUBLIC = "/search/"
STAFF = "/workspace/search/"


def host(tenant) -> str:
    return tenant.network.site.hostname


def hit_titles(html: str) -> list[str]:
    return re.findall(r'class="hit-title">(?:<a href="[^"]*">)?(.*?)(?:</a>)?</h2>', html)


@pytest.mark.django_db
def test_public_search_needs_no_login_and_answers_for_the_site_network(
    client, tenant_a, tenant_b, directory, other_directory
):
    page = client.get(PUBLIC, {"q": "rental"}, HTTP_HOST=host(tenant_a))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Emergency Rental Assistance" in html
    assert "Bravo" not in html
    theirs = client.get(PUBLIC, {"q": "rental"}, HTTP_HOST=host(tenant_b)).content.decode()
    assert "Bravo Rental Assistance" in theirs
    assert "Emergency Rental Assistance" not in theirs


@pytest.mark.django_db
def test_public_search_shows_miles_and_the_form_keeps_the_search(client, tenant_a, directory):
    page = client.get(
        PUBLIC, {"q": "pantry", "near": "95501", "radius": "25"}, HTTP_HOST=host(tenant_a)
    )
    html = page.content.decode()
    assert re.search(r"<strong>\d+\.\d mi</strong>", html)
    assert 'value="95501"' in html
    assert '<option value="25" selected>' in html
    points = json.loads(re.search(r'id="search-map-points"[^>]*>(.*?)</script>', html).group(1))
    assert points
    assert points[0]["lat"] == pytest.approx(EUREKA[0], abs=0.01)


@pytest.mark.django_db
def test_a_place_that_cannot_be_found_gives_a_message_not_an_error(client, tenant_a, directory):
    page = client.get(PUBLIC, {"q": "pantry", "near": "Atlantis"}, HTTP_HOST=host(tenant_a))
    assert page.status_code == 200
    html = page.content.decode()
    assert "We could not find “Atlantis”. Try a ZIP code." in html
    assert "Weekly Food Pantry" in html  # the rest of the search still runs


@pytest.mark.django_db
def test_every_bad_parameter_gets_a_message(client, tenant_a, directory):
    page = client.get(
        PUBLIC,
        {"q": "x", "radius": "far", "category": "unicorns", "age": "-3", "page": "0"},
        HTTP_HOST=host(tenant_a),
    )
    assert page.status_code == 200
    fields = set(re.findall(r'data-field="(\w+)"', page.content.decode()))
    assert fields == {"radius", "category", "age", "page"}


@pytest.mark.django_db
def test_htmx_gets_only_the_results_fragment(client, tenant_a, directory):
    page = client.get(PUBLIC, {"q": "pantry"}, HTTP_HOST=host(tenant_a), HTTP_HX_REQUEST="true")
    html = page.content.decode()
    assert "Weekly Food Pantry" in html
    assert "<html" not in html
    assert 'id="search-form"' not in html


@pytest.mark.django_db
def test_an_empty_search_shows_the_form_without_listing_everything(client, tenant_a, directory):
    html = client.get(PUBLIC, HTTP_HOST=host(tenant_a)).content.decode()
    assert 'id="search-form"' in html
    assert hit_titles(html) == []


@pytest.mark.django_db
def test_pages_link_to_each_other_with_the_whole_search(client, tenant_a, directory):
    html = client.get(
        PUBLIC, {"category": "food-insecurity", "page_size": "1"}, HTTP_HOST=host(tenant_a)
    ).content.decode()
    assert 'href="/search/?category=food-insecurity&amp;page_size=1&amp;page=2" rel="next"' in html
    assert "Page 1 of 3" in html


@pytest.mark.django_db
def test_autocomplete(client, tenant_a, directory):
    data = client.get(reverse("search:suggest"), {"q": "shel"}, HTTP_HOST=host(tenant_a)).json()
    labels = {s["label"] for s in data["suggestions"]}
    assert {"Overnight Shelter Beds", "Family Shelter Rooms"} <= labels
    options = client.get(
        reverse("search:suggest"), {"q": "shel"}, HTTP_HOST=host(tenant_a), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert '<option value="Family Shelter Rooms">' in options


@pytest.mark.django_db
def test_no_network_answers_at_an_unknown_host(client, directory):
    assert client.get(PUBLIC, {"q": "x"}, HTTP_HOST="unknown.localhost").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.CLINIC_STAFF, 200),
        (Role.CLINIC_ADMIN, 200),
        (Role.AGENCY_STAFF, 403),
        (Role.AGENCY_ADMIN, 403),
        (Role.NETWORK_ADMIN, 403),
    ],
)
def test_staff_search_is_for_clinic_roles(client, tenant_a, directory, role, status):
    client.force_login(tenant_a.users[role.value])
    page = client.get(STAFF, {"q": "pantry"})
    assert page.status_code == status
    if status == 200:
        assert "Weekly Food Pantry" in page.content.decode()
        # No agency here has a data-sharing agreement yet: contact directly, no refer link.
        assert "Contact directly" in page.content.decode()
        assert 'class="button primary refer"' not in page.content.decode()
    else:
        assert "Weekly Food Pantry" not in page.content.decode()


@pytest.mark.django_db
def test_staff_search_refuses_outsiders_and_anonymous(client, outsider, directory):
    assert client.get(STAFF).status_code == 302
    client.force_login(outsider)
    assert client.get(STAFF, {"q": "pantry"}).status_code == 403


@pytest.mark.django_db
def test_staff_search_stays_in_the_staff_network_whatever_the_host(
    client, tenant_a, tenant_b, directory, other_directory
):
    client.force_login(tenant_a.users["clinic_staff"])
    html = client.get(STAFF, {"q": "rental"}, HTTP_HOST=host(tenant_b)).content.decode()
    assert "Emergency Rental Assistance" in html
    assert "Bravo" not in html


@pytest.mark.django_db
@pytest.mark.parametrize("url", [PUBLIC, STAFF])
def test_query_count_does_not_grow_with_hits(client, tenant_a, url):
    client.force_login(tenant_a.users["clinic_staff"])
    few = [
        Spec(f"Pantry {n}", "Food for all.", categories=["food-insecurity"], agency="Few Pantries")
        for n in range(2)
    ]
    directory_build(tenant_a.network, few)
    params = {"q": "pantry", "near": "95501", "category": "food-insecurity", "page_size": "50"}

    def count() -> tuple[int, int]:
        with cold_queries() as queries:
            page = client.get(url, params, HTTP_HOST=host(tenant_a))
        return len(queries), len(hit_titles(page.content.decode()))

    small, small_hits = count()
    more = [
        Spec(
            f"Food Pantry {n}",
            "Food for all.",
            categories=["food-insecurity"],
            agency=f"Agency {n % 5}",
            hours=[(1, "09:00", "17:00")],
        )
        for n in range(30)
    ]
    directory_build(tenant_a.network, more)
    large, large_hits = count()
    assert large_hits == small_hits + 30  # the network's other pantries are found too
    assert large == small


@pytest.mark.django_db
@override_settings(
    HANDOFF_SEARCH_BACKENDS={
        "default": {"BACKEND": "tests.search.recording_backend"},
        "database": {"BACKEND": "search.backends.database"},
    }
)
def test_a_search_backend_outage_is_answered_by_the_database(client, tenant_a, directory):
    Recording.reset(down=True)
    page = client.get(PUBLIC, {"q": "pantry"}, HTTP_HOST=host(tenant_a))
    assert page.status_code == 200
    html = page.content.decode()
    assert "The main search service is not answering" in html
    assert 'data-backend="database"' in html
    assert "Weekly Food Pantry" in html
    suggestions = client.get(reverse("search:suggest"), {"q": "pant"}, HTTP_HOST=host(tenant_a))
    assert suggestions.status_code == 200
    assert suggestions.json()["suggestions"]
    Recording.reset()


@pytest.mark.django_db
@override_settings(
    HANDOFF_SEARCH_BACKENDS={
        "default": {
            "BACKEND": "search.backends.elasticsearch",
            "URLS": ["http://127.0.0.1:9"],
            "TIMEOUT": 0.5,
        },
        "database": {"BACKEND": "search.backends.database"},
    }
)
def test_an_unreachable_elasticsearch_never_gives_an_error_page(client, tenant_a, directory):
    page = client.get(PUBLIC, {"q": "pantry", "near": "95501"}, HTTP_HOST=host(tenant_a))
    assert page.status_code == 200
    html = page.content.decode()
    assert "The main search service is not answering" in html
    assert "Weekly Food Pantry" in html
    assert SearchDocument.objects.exists()


@pytest.mark.django_db
def test_service_page_is_public_and_shows_open_status(client, tenant_a, directory):
    page = client.get(
        "/directory/harbor-community-services/weekly-food-pantry/", HTTP_HOST=host(tenant_a)
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert "Weekly Food Pantry" in html
    assert ("Open now" in html) or ("Closed now" in html)


@pytest.mark.django_db
def test_open_at_a_given_local_time_filters_by_it(client, tenant_a, directory):
    page = client.get(PUBLIC, {"open_at": "2026-11-25T03:00"}, HTTP_HOST=host(tenant_a))
    html = page.content.decode()
    assert sorted(hit_titles(html)) == ["Family Shelter Rooms", "Overnight Shelter Beds"]
    assert 'value="2026-11-25T03:00"' in html
    bad = client.get(PUBLIC, {"open_at": "soon", "q": "pantry"}, HTTP_HOST=host(tenant_a))
    assert bad.status_code == 200
    assert 'data-field="open_at"' in bad.content.decode()


# --- what is kept between requests --------------------------------------------------------------


def site_queries(client, tenant) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(PUBLIC, {"q": "rental"}, HTTP_HOST=host(tenant)).status_code == 200
    return sum('FROM "wagtailcore_site"' in q["sql"] for q in queries.captured_queries)


@pytest.mark.django_db
@pytest.mark.site_networks_kept
def test_the_host_s_network_is_read_once_and_again_when_a_site_changes(
    client, tenant_a, tenant_b, directory, other_directory
):
    site_queries(client, tenant_a)
    assert site_queries(client, tenant_a) == 0  # kept in the process
    assert site_queries(client, tenant_b) == 1  # each host its own
    # A network admin points network B's site at A's host name (A's site elsewhere): the next
    # request on that host is answered by network B, in this process and in every other.
    site_a, site_b = tenant_a.network.site, tenant_b.network.site
    hostname = site_a.hostname
    site_a.hostname = "moved.example.org"
    site_a.save()
    site_b.hostname = hostname
    site_b.save()
    html = client.get(PUBLIC, {"q": "rental"}, HTTP_HOST=hostname).content.decode()
    assert "Bravo Rental Assistance" in html
    assert "Emergency Rental Assistance" not in html


@pytest.mark.django_db
@pytest.mark.site_networks_kept
def test_another_process_s_change_is_seen_through_the_shared_generation(
    client, tenant_a, directory
):
    from cms.generations import generation
    from network.middleware import SITE_NETWORKS

    site_queries(client, tenant_a)
    assert site_queries(client, tenant_a) == 0
    # What another process's save does to the shared cache: a new token.
    cache.set(f"generation:{SITE_NETWORKS}", "another-process-saved-a-site", None)
    assert generation(SITE_NETWORKS) == "another-process-saved-a-site"
    assert site_queries(client, tenant_a) == 1
    assert site_queries(client, tenant_a) == 0


@pytest.mark.django_db
@pytest.mark.site_networks_kept
def test_while_the_cache_is_unreachable_the_host_s_network_is_read_every_time(
    client, tenant_a, directory, monkeypatch
):
    from network import middleware

    monkeypatch.setattr(middleware, "generation", lambda name: "")
    assert site_queries(client, tenant_a) == 1
    assert site_queries(client, tenant_a) == 1


@pytest.mark.django_db
def test_a_need_met_by_a_new_service_is_offered_to_browse_at_once(client, tenant_a, directory):
    def needs() -> list[str]:
        html = client.get(PUBLIC, {"q": "zebra"}, HTTP_HOST=host(tenant_a)).content.decode()
        return re.findall(r'data-need="([^"]+)"', html)

    assert "veteran-status" not in needs()
    directory_build(
        tenant_a.network,
        [Spec("Veterans Desk", "Help.", categories=["veteran-status"], agency="Vets Hall")],
    )
    assert "veteran-status" in needs()
