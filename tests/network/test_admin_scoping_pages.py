"""The Wagtail admin's pages reach only the actor's tenant (chooser, explorer, page views, admin
API; an agency admin only their listing), and the deployment-wide sections are for superusers
(reports, workflows and the task chooser, site history, form submissions). Also: a chooser's form
value outside its choices is a field error, choosing several with a key that is not a key is not
found, and the page chooser's external link step matches only the user's own sites."""

from __future__ import annotations

import pytest
from django.urls import reverse
from wagtail.models import Page
from wagtail.snippets.models import get_snippet_models

from directory.models import TaxonomyTerm
from network.models import Role
from tests.network.admin_places import ADMIN_ROLES

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
