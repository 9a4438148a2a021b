"""Tenant isolation: nothing of network B is reachable or listed for the people of network A."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, get_resolver, reverse

from network.models import Role
from referrals.services.clients import screening_record
from tests.referrals.factories import loop_make

ROLES = sorted(r.value for r in Role)
# Who works on the pages under /workspace/<section>/: for them the answer must be 404.
USERS_OF = {
    "clients": (Role.CLINIC_STAFF, Role.CLINIC_ADMIN),
    "listings": (Role.AGENCY_STAFF, Role.AGENCY_ADMIN),
}


# The apps whose pages make up the staff workspace (``/workspace/…``).
WORKSPACE_APPS = ("network", "referrals", "directory")


def _object_urls(tenant, loop) -> list[str]:
    """Every workspace URL that names an object, filled in with one of ``tenant``'s objects.

    Walks the URL configuration, so a new object URL is covered without editing this test.
    ``pk`` is the client's under clients/, the service's under listings/services/ and a
    referral's elsewhere.
    """

    resolver = get_resolver().url_patterns
    apps = [p for p in resolver if getattr(p, "namespace", None) in WORKSPACE_APPS]
    membership = tenant.clinic.memberships.first()
    referral = loop.send()
    screening = screening_record(
        client=loop.client, by=loop.clinic_staff, organization=tenant.clinic, answers={}
    )
    pks = {"clients/": loop.client.pk, "listings/services/": loop.food.pk}
    urls = []

    def flat(resolver, prefix: str, namespace: str):  # type: ignore[no-untyped-def]
        # An app may nest a resolver (the referral API, under namespace "api").
        for entry in resolver.url_patterns:
            if isinstance(entry, URLPattern):
                yield namespace, prefix + str(entry.pattern), entry
            else:
                inner = f"{namespace}:{entry.namespace}" if entry.namespace else namespace
                yield from flat(entry, prefix + str(entry.pattern), inner)

    for namespace, route, pattern in (
        found for a in apps for found in flat(a, str(a.pattern), a.namespace)
    ):
        if not route.startswith("workspace/"):
            continue
        route = route.removeprefix("workspace/")
        values = {
            "slug": tenant.clinic.slug,
            "membership_id": membership.pk,
            "pk": next((pk for prefix, pk in pks.items() if route.startswith(prefix)), referral.pk),
            "screening_pk": screening.pk,
            "consent_pk": loop.consent.pk,
            "referral_id": referral.pk,  # the referral API
        }
        params = set(pattern.pattern.converters)
        if params:
            name = f"{namespace}:{pattern.name}"
            urls.append(reverse(name, kwargs={k: values[k] for k in params}))
    return urls


@pytest.fixture
def loop_b(tenant_b):
    return loop_make(tenant_b)


@pytest.mark.django_db
def test_object_urls_cover_every_parameterised_workspace_view(tenant_b, loop_b):
    assert len(_object_urls(tenant_b, loop_b)) >= 10


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_objects_of_another_network_are_not_found(client, tenant_a, tenant_b, loop_b, role):
    client.force_login(tenant_a.users[role])
    for url in _object_urls(tenant_b, loop_b):
        response = client.get(url) if not url.endswith(("/add/", "/remove/")) else client.post(url)
        if response.status_code == 405:  # a POST-only action
            response = client.post(url)
        if url.startswith("/workspace/api/") and response.status_code == 400:
            # The API reads its body before the object: send a valid one.
            body = {"to": "accepted", "version": 1}
            response = client.post(url, body, content_type="application/json")
        # 404 for whoever could use the page; a role that cannot use it at all (agency staff on
        # a client page) is refused before any object is looked up, which reveals nothing.
        assert response.status_code in (403, 404), url
        if role in USERS_OF.get(url.split("/")[2], ()):
            assert response.status_code == 404, url
        assert tenant_b.clinic.name.encode() not in response.content
        assert loop_b.client.last_name.encode() not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_lists_show_no_rows_of_another_network(client, tenant_a, tenant_b, role):
    client.force_login(tenant_a.users[role])
    pages = [
        reverse("network:organization_list"),
        reverse("network:workspace"),
        reverse("network:organization_list") + "?kind=agency",
    ]
    if role == Role.NETWORK_ADMIN:
        pages.append(reverse("network:network_overview"))
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert "Bravo" not in body, url
        assert tenant_a.agency.name in body or url == reverse("network:workspace")


@pytest.mark.django_db
def test_network_admin_of_a_is_not_admin_of_b(client, tenant_a, tenant_b):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    client.force_login(admin)
    # Removing a member of B through A's URL space: B's organization is not found.
    target = tenant_b.clinic.memberships.first()
    response = client.post(reverse("network:member_remove", args=[tenant_b.clinic.slug, target.pk]))
    assert response.status_code == 404
    assert tenant_b.clinic.memberships.filter(pk=target.pk).exists()


@pytest.mark.django_db
def test_membership_of_b_cannot_be_removed_through_an_organization_of_a(client, tenant_a, tenant_b):
    client.force_login(tenant_a.users[Role.CLINIC_ADMIN])
    target = tenant_b.clinic.memberships.first()
    response = client.post(reverse("network:member_remove", args=[tenant_a.clinic.slug, target.pk]))
    assert response.status_code == 404
    assert tenant_b.clinic.memberships.filter(pk=target.pk).exists()


@pytest.mark.django_db
def test_same_slug_in_two_networks_resolves_to_the_actors_own(client, tenant_a, tenant_b):
    from tests.network.factories import organization_make

    organization_make(tenant_a.network, "agency", name="Food Bank", slug="food-bank")
    organization_make(tenant_b.network, "agency", name="Bravo Food Bank", slug="food-bank")
    client.force_login(tenant_a.users[Role.CLINIC_STAFF])
    response = client.get(reverse("network:organization_detail", args=["food-bank"]))
    assert response.status_code == 200
    assert b"Bravo Food Bank" not in response.content


@pytest.mark.django_db
def test_switching_to_a_membership_of_someone_else_is_refused(client, tenant_a, tenant_b):
    user = tenant_a.users[Role.CLINIC_STAFF]
    foreign = tenant_b.clinic.memberships.first()
    client.force_login(user)
    response = client.post(
        reverse("network:membership_switch"), {"membership": foreign.pk}, follow=True
    )
    assert "Choose one of your own organizations" in response.content.decode()
    assert response.context["current_network"] == tenant_a.network


@pytest.mark.django_db
def test_member_of_two_networks_acts_in_the_one_switched_to(client, tenant_a, tenant_b):
    from network import services

    user = tenant_a.users[Role.CLINIC_STAFF]
    other = services.membership_grant(
        user=user, role=Role.AGENCY_STAFF, organization=tenant_b.agency, notify=False
    )
    client.force_login(user)
    client.post(reverse("network:membership_switch"), {"membership": other.pk})
    response = client.get(reverse("network:organization_list"))
    body = response.content.decode()
    assert tenant_b.agency.name in body
    assert tenant_a.agency.name not in body
    assert (
        client.get(reverse("network:organization_detail", args=[tenant_a.clinic.slug])).status_code
        == 404
    )


@pytest.mark.django_db
def test_user_without_membership_sees_only_login_and_public_pages(client, tenant_a, outsider):
    client.force_login(outsider)
    assert client.get(reverse("login")).status_code in {200, 302}
    home = client.get("/", HTTP_HOST=tenant_a.network.site.hostname)
    assert home.status_code == 200
    assert tenant_a.network.name in home.content.decode()
    for url in [
        reverse("network:workspace"),
        reverse("network:organization_list"),
        reverse("network:network_overview"),
    ]:
        assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_whether_a_network_is_visible_is_answered_alike_from_the_requests_memberships(
    tenant_a, tenant_b, outsider, superuser
):
    """``network_is_visible`` answers from the memberships a request read as from a query of
    its own, and asks nothing then."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from network.selectors import memberships_for_user, network_is_visible

    member = tenant_a.users[Role.CLINIC_STAFF]
    for user in (member, outsider, superuser):
        memberships = list(memberships_for_user(user=user))
        for network in (tenant_a.network, tenant_b.network):
            asked = network_is_visible(user=user, network=network)
            with CaptureQueriesContext(connection) as captured:
                answered = network_is_visible(user=user, network=network, memberships=memberships)
            assert answered == asked
            assert captured.captured_queries == []
    assert not network_is_visible(user=member, network=tenant_a.network, memberships=[])
    # Another person's memberships never make a network visible.
    other_memberships = list(memberships_for_user(user=tenant_b.users[Role.CLINIC_STAFF]))
    assert not network_is_visible(
        user=member, network=tenant_b.network, memberships=other_memberships
    )
