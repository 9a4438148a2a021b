"""The Wagtail admin reaches only the actor's tenant: snippets (every view and the choosers),
pages (chooser, explorer, page views, admin API; an agency admin only their listing), documents
and images (per-network collections), and history and usage pages work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.images.tests.utils import get_test_image_file
from wagtail.log_actions import log
from wagtail.models import Collection, GroupCollectionPermission, Page
from wagtail.snippets.models import get_snippet_models

from consent import services as consent_services
from directory import services as directory_services
from directory.models import AgencyPage, ListingSuggestion, ServicePage, TaxonomyTerm
from network.models import Network, Organization, Role, User
from tests.conftest import Tenant, tenant_make
from tests.factories import organization_make

ADMIN_ROLES = [Role.NETWORK_ADMIN, Role.AGENCY_ADMIN]


@dataclass
class Place:
    """One network's admin-visible objects, each named with a marker (the label) no other
    network uses."""

    tenant: Tenant
    marker: str
    listing: AgencyPage
    other_listing: AgencyPage  # another agency's listing in the same network
    service: ServicePage
    term: TaxonomyTerm
    agreement: Any
    suggestion: ListingSuggestion
    document: Any
    image: Any

    def snippet(self, model: type) -> Any:
        return {
            Organization: self.tenant.agency,
            Network: self.tenant.network,
            TaxonomyTerm: self.term,
            ListingSuggestion: self.suggestion,
            type(self.agreement): self.agreement,
        }[model]


def place_make(label: str) -> Place:
    tenant = tenant_make(label)
    network, admin = tenant.network, tenant.users[Role.NETWORK_ADMIN]
    marker = label  # in every name: network, organizations, pages, terms, files
    index = directory_services.directory_index_for(network)
    listing = AgencyPage(
        title=f"{marker} listing", slug="listing", description=".", organization=tenant.agency
    )
    index.add_child(instance=listing)
    service = ServicePage(title=f"{marker} pantry", slug="pantry", description="Food.")
    listing.add_child(instance=service)
    directory_services.listing_editors_sync(organization=tenant.agency)
    other = organization_make(network, "agency", name=f"{marker} neighbour agency")
    other_listing = AgencyPage(
        title=f"{marker} neighbour listing", slug="neighbour", description=".", organization=other
    )
    index.add_child(instance=other_listing)
    term = TaxonomyTerm.objects.create(network=network, code="food", name=f"{marker} term")
    agreement = consent_services.agreement_create(
        by=admin, agency=tenant.agency, fields=[], effective_from=date(2026, 1, 1)
    )
    suggestion = directory_services.listing_suggestion_create(
        page=listing,
        organization=tenant.agency,
        by=tenant.users[Role.AGENCY_STAFF],
        text=f"{marker} suggestion",
    )
    for instance in (tenant.agency, term, agreement, suggestion):
        log(instance=instance, action="wagtail.edit", user=admin)
    # People's names carry the marker too: page owners and editors are offered as filters.
    User.objects.filter(pk__in=[user.pk for user in tenant.users.values()]).update(first_name=label)
    Page.objects.filter(pk=listing.pk).update(owner=tenant.users[Role.AGENCY_ADMIN])
    log(instance=listing, action="wagtail.edit", user=tenant.users[Role.AGENCY_ADMIN])
    collection = network.collection
    document = get_document_model().objects.create(
        title=f"{marker} signed agreement",
        file=ContentFile(b"%PDF-1.4 signed", name="agreement.pdf"),
        collection=collection,
    )
    image = get_image_model().objects.create(
        title=f"{marker} logo", file=get_test_image_file(), collection=collection
    )
    return Place(
        tenant=tenant,
        marker=marker,
        listing=listing,
        other_listing=other_listing,
        service=service,
        term=term,
        agreement=agreement,
        suggestion=suggestion,
        document=document,
        image=image,
    )


@pytest.fixture
def places(db) -> tuple[Place, Place]:
    return place_make("Alpha"), place_make("Bravo")


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


# --- pages -------------------------------------------------------------------------------------


def _page_urls(page: Page) -> list[str]:
    pk = page.pk
    return [
        reverse("wagtailadmin_choose_page_child", args=[pk]),
        reverse("wagtailadmin_explore", args=[pk]),
        reverse("wagtailadmin_explore_results", args=[pk]),
        reverse("wagtailadmin_pages:edit", args=[pk]),
        reverse("wagtailadmin_pages:history", args=[pk]),
        reverse("wagtailadmin_pages:revisions_index", args=[pk]),
        reverse("wagtailadmin_pages:usage", args=[pk]),
        reverse("wagtailadmin_pages:delete", args=[pk]),
        reverse("wagtailadmin_pages:copy", args=[pk]),
        reverse("wagtailadmin_pages:move", args=[pk]),
        reverse("wagtailadmin_pages:add_subpage", args=[pk]),
        reverse("wagtailadmin_pages:view_draft", args=[pk]),
        reverse("wagtailadmin_pages:workflow_history", args=[pk]),
        reverse("wagtailadmin_pages:revisions_compare", args=[pk, "earliest", "latest"]),
        reverse("wagtailadmin_api:pages:detail", args=[pk]),
    ]


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_other_networks_pages_are_not_found(client, places, role):
    mine, theirs = places
    client.force_login(mine.tenant.users[role])
    leaks = []
    for page in (theirs.tenant.network.root_page, theirs.listing, theirs.service):
        for url in _page_urls(page):
            response = client.get(url)
            if response.status_code != 404 or theirs.marker in response.content.decode():
                leaks.append((url, response.status_code))
    assert leaks == []


def test_agency_admin_reaches_only_their_listing(client, places):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.AGENCY_ADMIN])
    for page in (mine.tenant.network.root_page, mine.other_listing):
        for url in _page_urls(page):
            response = client.get(url)
            assert response.status_code == 404, url
            assert "neighbour" not in response.content.decode()
    own = client.get(reverse("wagtailadmin_choose_page_child", args=[mine.listing.pk]))
    assert own.status_code == 200
    assert mine.service.title in own.content.decode()
    api = client.get(reverse("wagtailadmin_api:pages:listing"), {"limit": 20})
    titles = {item["title"] for item in api.json()["items"]}
    assert titles == {mine.listing.title, mine.service.title}


def test_network_admin_pages_everywhere_hold_only_their_network(client, places):
    mine, theirs = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    api = client.get(reverse("wagtailadmin_api:pages:listing"), {"limit": 20})
    body = api.content.decode()
    assert mine.listing.title in body
    assert theirs.marker not in body
    for url, params in (
        (reverse("wagtailadmin_choose_page"), {}),
        (reverse("wagtailadmin_choose_page"), {"page_type": "directory.agencypage"}),
        (reverse("wagtailadmin_choose_page_search"), {"q": "listing"}),
        (reverse("wagtailadmin_explore", args=[mine.tenant.network.root_page.pk]), {}),
        (reverse("wagtailadmin_explore", args=[mine.tenant.network.root_page.pk]), {"q": "a"}),
        (reverse("wagtailadmin_explore_root"), {}),
        (reverse("wagtailadmin_pages:type_use", args=["directory", "agencypage"]), {}),
        (reverse("wagtailadmin_pages:search"), {"q": "listing"}),
    ):
        response = client.get(url, params, follow=True)  # the explorer's root redirects
        assert response.status_code == 200, url
        assert theirs.marker not in response.content.decode(), url
    own = client.get(reverse("wagtailadmin_choose_page_child", args=[mine.listing.pk]))
    assert own.status_code == 200
    assert mine.service.title in own.content.decode()
    edit = client.get(reverse("wagtailadmin_pages:edit", args=[mine.service.pk]))
    assert edit.status_code == 200


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_deployment_wide_reports_are_for_superusers(client, places, superuser, role):
    """Their rows and filters name every network's pages, people and workflows."""
    mine, theirs = places
    names = ["locked_pages", "workflow", "workflow_tasks", "page_types_usage"]
    client.force_login(mine.tenant.users[role])
    for name in names:
        response = client.get(reverse(f"wagtailadmin_reports:{name}"))
        assert response.status_code == 404, name
        assert theirs.marker not in response.content.decode()
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert reverse("wagtailadmin_reports:page_types_usage") not in home
    client.force_login(superuser)
    for name in names:
        assert client.get(reverse(f"wagtailadmin_reports:{name}")).status_code == 200, name


# --- documents and images ----------------------------------------------------------------------


def _media_urls(place: Place) -> list[str]:
    document, image = place.document.pk, place.image.pk
    return [
        reverse("wagtaildocs:edit", args=[document]),
        reverse("wagtaildocs:delete", args=[document]),
        reverse("wagtaildocs:document_usage", args=[document]),
        reverse("wagtaildocs_chooser:chosen", args=[document]),
        reverse("wagtailadmin_api:documents:detail", args=[document]),
        reverse("wagtailimages:edit", args=[image]),
        reverse("wagtailimages:delete", args=[image]),
        reverse("wagtailimages:image_usage", args=[image]),
        reverse("wagtailimages:url_generator", args=[image]),
        reverse("wagtailimages_chooser:chosen", args=[image]),
        reverse("wagtailimages_chooser:select_format", args=[image]),
        reverse("wagtailadmin_api:images:detail", args=[image]),
    ]


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_other_networks_documents_and_images_are_not_found(client, places, role):
    mine, theirs = places
    client.force_login(mine.tenant.users[role])
    leaks = []
    for url in _media_urls(theirs):
        response = client.get(url)
        if response.status_code != 404 or theirs.marker in response.content.decode():
            leaks.append((url, response.status_code))
    for url in (
        reverse("wagtailadmin_api:documents:listing"),
        reverse("wagtailadmin_api:images:listing"),
        reverse("wagtaildocs:index"),
        reverse("wagtaildocs_chooser:choose"),
        reverse("wagtailimages:index"),
        reverse("wagtailimages_chooser:choose"),
    ):
        response = client.get(url)
        if theirs.marker in response.content.decode():
            leaks.append((url, response.status_code))
    assert leaks == []


def test_network_admin_works_with_own_documents_and_images(client, places):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    for url in (
        reverse("wagtailadmin_api:documents:listing"),
        reverse("wagtailadmin_api:images:listing"),
        reverse("wagtaildocs_chooser:choose"),
        reverse("wagtailimages_chooser:choose"),
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert mine.marker in response.content.decode(), url
    for url in (
        reverse("wagtaildocs:edit", args=[mine.document.pk]),
        reverse("wagtailimages:edit", args=[mine.image.pk]),
        reverse("wagtaildocs_chooser:chosen", args=[mine.document.pk]),
    ):
        assert client.get(url).status_code == 200, url


def test_each_network_has_its_collection_and_only_its_admins_hold_it(places):
    mine, theirs = places
    for place in places:
        network = place.tenant.network
        assert network.collection is not None
        assert network.collection.get_parent() == Collection.get_first_root_node()
        holders = set(
            GroupCollectionPermission.objects.filter(collection=network.collection).values_list(
                "group_id", flat=True
            )
        )
        assert holders == {network.admin_group_id}
        codenames = set(
            GroupCollectionPermission.objects.filter(collection=network.collection).values_list(
                "permission__codename", flat=True
            )
        )
        assert {"choose_document", "change_document", "choose_image", "add_image"} <= codenames
    assert mine.tenant.network.collection != theirs.tenant.network.collection


def test_existing_networks_get_their_collection_linked(db):
    """The migration links each network to the collection made for it, or makes one (with the
    admin group's permissions) when it cannot be found."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("network.migrations.0007_network_collection")
    linked, renamed = tenant_make("Linked").network, tenant_make("Renamed").network
    made_for_linked, made_for_renamed = linked.collection, renamed.collection
    Collection.objects.filter(pk=made_for_renamed.pk).update(name="Something else")
    Network.objects.filter(pk__in=[linked.pk, renamed.pk]).update(collection=None)

    migration.networks_link_collections(apps, None)

    linked.refresh_from_db()
    renamed.refresh_from_db()
    assert linked.collection == made_for_linked
    assert renamed.collection not in {None, made_for_renamed}
    assert renamed.collection.name == renamed.name
    assert GroupCollectionPermission.objects.filter(
        collection=renamed.collection, group=renamed.admin_group
    ).count() == len(migration.COLLECTION_PERMISSIONS)


# --- deployment-wide sections, choosers' form values, the external link step -------------------


def _superusers_only(client, places, admin, superuser, urls, *, shows=True):  # type: ignore[no-untyped-def]
    """Each URL is not found for ``admin`` and shows nothing of the other network; a
    superuser opens the first (which shows the other network's objects, when ``shows``; when
    None, what it lists is not checked)."""
    _mine, theirs = places
    client.force_login(admin)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 404, url
        assert theirs.marker not in response.content.decode(), url
    client.force_login(superuser)
    response = client.get(urls[0])
    assert response.status_code == 200
    if shows is not None:
        assert (theirs.marker in response.content.decode()) is shows


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_workflows_and_the_task_chooser_are_for_superusers(client, places, superuser, role):
    """The task chooser checks no permission and lists every network's review tasks; network
    admins manage no workflows (the directory service makes each network's)."""
    from wagtail.models import Task

    mine, theirs = places
    task = Task.objects.get(name__contains=theirs.marker)
    urls = [
        reverse("wagtailadmin_workflows:task_chooser"),
        reverse("wagtailadmin_workflows:task_chooser_results"),
        reverse("wagtailadmin_workflows:task_chosen", args=[task.pk]),
        reverse("wagtailadmin_workflows:index"),
        reverse("wagtailadmin_workflows:task_index"),
    ]
    _superusers_only(client, places, mine.tenant.users[role], superuser, urls)


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_site_history_is_for_superusers(client, places, superuser, role):
    """Site history lists every network's log entries and the people who made them."""
    mine, _theirs = places
    urls = [reverse(f"wagtailadmin_reports:{n}") for n in ("site_history", "site_history_results")]
    _superusers_only(client, places, mine.tenant.users[role], superuser, urls)
    client.force_login(mine.tenant.users[role])
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert reverse("wagtailadmin_reports:site_history") not in home


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_form_submissions_are_for_superusers(client, places, superuser, role):
    """The form pages listing's filters name every network's sites and people."""
    mine, _theirs = places
    urls = [reverse(f"wagtailforms:{name}") for name in ("index", "index_results")]
    _superusers_only(client, places, mine.tenant.users[role], superuser, urls, shows=None)


@pytest.mark.parametrize("value", ["abc", "1e309", "theirs"])
def test_a_chooser_value_outside_the_choices_is_a_field_error(client, places, value):
    """Shown again with errors, the form hands its chooser widgets no value outside the field's
    choices: not a number answered 500; another network's term showed its name."""
    mine, theirs = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    key = str(theirs.term.pk) if value == "theirs" else value
    before = TaxonomyTerm.objects.count()
    viewset = TaxonomyTerm.snippet_viewset
    for url in (
        reverse(viewset.get_url_name("add")),
        reverse(viewset.get_url_name("edit"), args=[mine.term.pk]),
        reverse(viewset.get_url_name("copy"), args=[mine.term.pk]),
    ):
        response = client.post(
            url,
            {
                "network": mine.tenant.network.pk,
                "name": "New term",
                "code": "new",
                "parent": key,
                "taxonomy": "",
            },
        )
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "Select a valid choice" in body, url
        assert theirs.marker not in body, url
    assert TaxonomyTerm.objects.count() == before
    mine.term.refresh_from_db()
    assert mine.term.parent is None


def test_a_valid_chooser_value_is_kept_when_another_field_has_an_error(client, places):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    sibling = TaxonomyTerm.objects.create(
        network=mine.tenant.network, code="sib", name=f"{mine.marker} sibling term"
    )
    response = client.post(
        reverse(TaxonomyTerm.snippet_viewset.get_url_name("add")),
        {"network": mine.tenant.network.pk, "name": "", "code": "new", "parent": sibling.pk},
    )
    assert response.status_code == 200
    assert f"{mine.marker} sibling term" in response.content.decode()


@pytest.mark.parametrize("key", ["99999999999999999999", "-1", "0", "abc", "1e309"])
def test_choosing_several_with_a_key_that_is_not_a_key_is_not_found(client, places, key):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    for model in get_snippet_models():
        chooser = model.snippet_viewset.get_chooser_admin_url_namespace()
        url = reverse(f"{chooser}:chosen_multiple")
        response = client.get(url + f"?id={mine.snippet(model).pk}&id={key}")
        assert response.status_code == 404, (model, key)


EXTERNAL_LINK_FIELD = "external-link-chooser-url"


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_the_external_link_step_matches_only_the_users_sites(client, places, role):
    """Another network's page URL stays an external link: Wagtail matched every site and
    answered with that page's draft title, id and edit URL."""
    mine, theirs = places
    client.force_login(mine.tenant.users[role])
    url = reverse("wagtailadmin_choose_page_external_link")
    submitted = theirs.listing.get_full_url()
    response = client.post(url, {EXTERNAL_LINK_FIELD: submitted})
    assert response.status_code == 200
    assert theirs.marker not in response.content.decode()
    data = response.json()
    assert data["step"] == "external_link_chosen"
    assert data["result"]["url"] == submitted
    assert "id" not in data["result"]


def test_the_external_link_step_still_links_the_users_own_pages(client, places):
    mine, _ = places
    client.force_login(mine.tenant.users[Role.NETWORK_ADMIN])
    response = client.post(
        reverse("wagtailadmin_choose_page_external_link"),
        {EXTERNAL_LINK_FIELD: mine.listing.get_full_url()},
    )
    assert response.status_code == 200
    assert response.json()["result"]["id"] == mine.listing.pk


@pytest.mark.parametrize("role", ADMIN_ROLES)
def test_the_external_link_step_without_a_url_is_a_form_error(client, places, role):
    mine, _ = places
    client.force_login(mine.tenant.users[role])
    response = client.post(reverse("wagtailadmin_choose_page_external_link"))
    assert response.status_code == 200
    assert response.json()["step"] == "external_link"
    assert "This field is required" in response.json()["html"]
