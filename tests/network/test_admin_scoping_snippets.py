"""The Wagtail admin's snippets reach only the actor's tenant: every registered snippet viewset
and chooser is scoped, another network's snippets are not found by any view naming one (nor
listed), the snippets index counts only what the user may see, and a network admin uses every
view of their own (history, usage, inspect, choosers, bulk actions)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from wagtail.snippets.models import get_snippet_models

from directory.models import HsdsFeed, ListingSuggestion, TaxonomyTerm
from network.models import ApiClient, Network, Organization, Role
from tests.network.admin_places import ADMIN_ROLES
from tests.network.factories import organization_make


def _patterns(namespace: str) -> list[URLPattern]:
    """The URL patterns of one admin namespace, from the resolver (new views are included)."""

    def walk(patterns: list[Any], inside: bool) -> list[URLPattern]:
        found: list[URLPattern] = []
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found += walk(pattern.url_patterns, inside or pattern.namespace == namespace)
            elif inside and pattern.name:
                found.append(pattern)
        return found

    return walk(get_resolver().url_patterns, False)


def _object_urls(model: type, pk: Any) -> list[str]:
    """Every URL of the model's snippet and chooser viewsets that names one object."""
    viewset = model.snippet_viewset
    urls = []
    for namespace in (viewset.get_admin_url_namespace(), viewset.get_chooser_admin_url_namespace()):
        for pattern in _patterns(namespace):
            if set(pattern.pattern.converters) == {"pk"}:
                urls.append(reverse(f"{namespace}:{pattern.name}", kwargs={"pk": pk}))
    return urls


def _list_urls(model: type, pk: Any) -> list[str]:
    viewset = model.snippet_viewset
    chooser = viewset.get_chooser_admin_url_namespace()
    return [
        reverse(viewset.get_url_name("list")),
        reverse(viewset.get_url_name("list_results")),
        reverse(f"{chooser}:choose"),
        reverse(f"{chooser}:choose_results"),
        reverse(f"{chooser}:chosen_multiple") + f"?id={pk}",
    ]


# --- snippets ----------------------------------------------------------------------------------


def test_every_registered_snippet_viewset_is_scoped():
    """A new snippet model cannot forget a view: its viewset and chooser derive from the
    scoped bases."""
    from network.wagtail_scoping import NetworkScopedSnippetViewSet, ScopedSnippetChooserViewSet

    models = get_snippet_models()
    assert models
    for model in models:
        assert isinstance(model.snippet_viewset, NetworkScopedSnippetViewSet), model
        assert isinstance(model.snippet_viewset.chooser_viewset, ScopedSnippetChooserViewSet)


def test_snippet_urls_cover_every_view_naming_an_object():
    urls = _object_urls(Organization, 1)
    for view in ("edit", "delete", "usage", "history", "inspect", "copy", "chosen"):
        assert any(f"/{view}/1/" in url for url in urls), (view, urls)


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_other_networks_snippets_are_not_found_anywhere(client, places, role):
    mine, theirs = places
    client.force_login(mine.tenant.users[role])
    leaks = []
    for model in get_snippet_models():
        instance = theirs.snippet(model)
        for url in _object_urls(model, instance.pk):
            for method in (client.get, client.post):
                response = method(url)
                if response.status_code != 404 or theirs.marker in response.content.decode():
                    leaks.append((method.__name__, url, response.status_code))
        for url in _list_urls(model, instance.pk):
            response = client.get(url)
            if response.status_code == 200 and theirs.marker in response.content.decode():
                leaks.append(("list", url, response.status_code))
    assert leaks == []


def test_the_snippets_index_counts_only_what_the_user_may_see(client, places, superuser, settings):
    """Wagtail's index of snippet kinds says how many of each the whole deployment holds.
    Every kind here has its own menu item, so the index lists none (and refuses); with
    WAGTAILSNIPPETS_MENU_SHOW_ALL, or a kind added without a menu item, it lists them with
    the counts of what the user may see."""
    mine, _theirs = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    assert client.get(reverse("wagtailsnippets:index")).status_code == 302  # nothing to list
    settings.WAGTAILSNIPPETS_MENU_SHOW_ALL = True

    def counts() -> dict[str, int]:
        response = client.get(reverse("wagtailsnippets:index"))
        assert response.status_code == 200
        return {kind["model"]: kind["count"] for kind in response.context["object_list"]}

    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    seen = counts()
    network = mine.tenant.network
    agreements = type(mine.agreement)
    expected = {
        Network: 1,
        Organization: Organization.objects.filter(network=network).count(),
        TaxonomyTerm: TaxonomyTerm.objects.filter(network=network).count(),
        agreements: agreements.objects.filter(agency__network=network).count(),
        ListingSuggestion: ListingSuggestion.objects.filter(network=network).count(),
        HsdsFeed: HsdsFeed.objects.filter(network=network).count(),
        ApiClient: ApiClient.objects.filter(network=network).count(),
    }
    assert {Organization, TaxonomyTerm, agreements} <= set(seen)
    assert seen == {model: expected[model] for model in seen}
    client.force_login(superuser)
    everything = counts()
    assert everything[Network] == Network.objects.count() >= 2
    assert everything[Organization] == Organization.objects.count() > seen[Organization]


def test_network_admin_uses_every_view_of_own_snippets(client, places):
    """History and usage answered 500 for everyone; inspect, chooser and chosen list only
    the network's own objects."""
    mine, theirs = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    failures = []
    for model in (Organization, TaxonomyTerm, ListingSuggestion, type(mine.agreement)):
        viewset = model.snippet_viewset
        instance = mine.snippet(model)
        views = ["history", "usage", "edit"] + (["inspect"] if viewset.inspect_view_enabled else [])
        for view in views:
            url = reverse(viewset.get_url_name(view), args=[instance.pk])
            response = client.get(url)
            if response.status_code != 200:
                failures.append((url, response.status_code))
        chosen = client.get(
            reverse(f"{viewset.get_chooser_admin_url_namespace()}:chosen", args=[instance.pk])
        )
        assert chosen.status_code == 200, model
        chooser = client.get(reverse(f"{viewset.get_chooser_admin_url_namespace()}:choose"))
        body = chooser.content.decode()
        assert chooser.status_code == 200
        assert mine.marker in body or model is ListingSuggestion, (model, body[:500])
        assert theirs.marker not in body
    assert failures == []


def test_history_shows_the_agreement_changes(client, places):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    viewset = type(mine.agreement).snippet_viewset
    response = client.get(reverse(viewset.get_url_name("history"), args=[mine.agreement.pk]))
    assert response.status_code == 200
    assert "Edit" in response.content.decode()


def test_a_key_that_is_not_a_key_is_not_found(client, places):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    viewset = Organization.snippet_viewset
    chooser = viewset.get_chooser_admin_url_namespace()
    assert client.get(reverse(f"{chooser}:chosen", args=["not-a-number"])).status_code == 404
    response = client.get(reverse(f"{chooser}:chosen_multiple") + "?id=x")
    assert response.status_code == 404


def test_the_chooser_creates_nothing(client, places):
    """Snippets are created through their own form and services: the chooser's create URL
    answers 404, never 500."""
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    before = type(mine.agreement).objects.count()
    for model in get_snippet_models():
        url = reverse(f"{model.snippet_viewset.get_chooser_admin_url_namespace()}:create")
        assert client.post(url, {"agency": mine.tenant.agency.pk}).status_code == 404, model
    assert type(mine.agreement).objects.count() == before


def test_bulk_actions_do_not_name_other_networks_objects(client, places):
    mine, theirs = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    for url in (
        reverse("wagtail_bulk_action", args=["network", "organization", "delete"])
        + f"?id={theirs.tenant.agency.pk}",
        reverse("wagtail_bulk_action", args=["network", "organization", "delete"]) + "?id=all",
        reverse("wagtail_bulk_action", args=["wagtailcore", "page", "delete"])
        + f"?id={theirs.listing.pk}",
        reverse("wagtail_bulk_action", args=["wagtailcore", "page", "delete"])
        + f"?id=all&childOf={theirs.listing.pk}",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert theirs.marker not in response.content.decode()
    own = reverse("wagtail_bulk_action", args=["network", "organization", "delete"])
    response = client.get(own + f"?id={mine.tenant.clinic.pk}")
    assert response.status_code == 200
    assert mine.tenant.clinic.name in response.content.decode()


def test_chooser_query_count_does_not_grow(client, places, django_assert_max_num_queries):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    url = reverse(
        f"{Organization.snippet_viewset.get_chooser_admin_url_namespace()}:choose_results"
    )

    def count() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    before = count()
    for n in range(8):
        organization_make(mine.tenant.network, "agency", name=f"Extra agency {n}")
    with django_assert_max_num_queries(before):
        assert client.get(url).status_code == 200
