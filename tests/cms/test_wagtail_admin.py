"""The Wagtail admin works for network admins and only over their own network."""

from __future__ import annotations

import re
from html import unescape as html_unescape

import pytest
from django.urls import reverse

from network.models import Organization, Role


def _snippet_url(action: str, *args) -> str:
    return reverse(f"wagtailsnippets_network_organization:{action}", args=args)


@pytest.mark.django_db
def test_network_admin_lists_only_own_organizations(client, tenant_a, tenant_b):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    response = client.get(_snippet_url("list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert tenant_a.clinic.name in body
    assert tenant_b.clinic.name not in body


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["edit", "delete", "usage", "history", "inspect", "copy"])
def test_network_admin_gets_404_for_other_networks_organization(client, tenant_a, tenant_b, action):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    assert client.get(_snippet_url(action, tenant_b.clinic.pk)).status_code == 404


@pytest.mark.django_db
def test_network_admin_edits_own_organization_through_the_service(client, tenant_a):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    org = tenant_a.agency
    response = client.post(
        _snippet_url("edit", org.pk),
        {
            "network": org.network_id,
            "name": "Renamed Agency",
            "slug": org.slug,
            "kind": "agency",
            "is_active": "on",
            "description": "",
            "phone": "(707) 555-0100",
            "email": "",
            "website": "",
            "address_1": "",
            "city": "Eureka",
            "state": "CA",
            "postal_code": "95501",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    org.refresh_from_db()
    assert (org.name, org.city) == ("Renamed Agency", "Eureka")


@pytest.mark.django_db
def test_network_admin_cannot_create_organization_in_another_network(client, tenant_a, tenant_b):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    before = Organization.objects.count()
    response = client.post(
        _snippet_url("add"),
        {
            "network": tenant_b.network.pk,
            "name": "Smuggled",
            "slug": "smuggled",
            "kind": "agency",
            "is_active": "on",
            "description": "",
            "phone": "",
            "email": "",
            "website": "",
            "address_1": "",
            "city": "",
            "state": "",
            "postal_code": "",
        },
    )
    assert response.status_code == 200  # the form is shown again with the error
    assert "Select a valid choice" in response.content.decode()
    assert Organization.objects.count() == before


@pytest.mark.django_db
def test_network_admin_creates_organization_in_own_network(client, tenant_a):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    response = client.post(
        _snippet_url("add"),
        {
            "network": tenant_a.network.pk,
            "name": "Blue Lake Pantry",
            "slug": "blue-lake-pantry",
            "kind": "agency",
            "is_active": "on",
            "description": "",
            "phone": "",
            "email": "",
            "website": "",
            "address_1": "",
            "city": "Blue Lake",
            "state": "CA",
            "postal_code": "95525",
        },
    )
    assert response.status_code == 302
    assert Organization.objects.get(slug="blue-lake-pantry").network == tenant_a.network


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.CLINIC_ADMIN, Role.CLINIC_STAFF, Role.AGENCY_ADMIN, Role.AGENCY_STAFF]
)
def test_other_roles_cannot_use_the_organization_admin(client, tenant_a, role):
    client.force_login(tenant_a.users[role])
    response = client.get(_snippet_url("list"))
    assert response.status_code in {302, 403}
    assert tenant_a.clinic.name not in response.content.decode()


@pytest.mark.django_db
def test_network_admin_sees_only_own_page_tree(client, tenant_a, tenant_b):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    own = client.get(reverse("wagtailadmin_pages:edit", args=[tenant_a.network.root_page.pk]))
    assert own.status_code == 200
    other = client.get(reverse("wagtailadmin_pages:edit", args=[tenant_b.network.root_page.pk]))
    assert other.status_code == 404  # not found, as every other network's object
    explorer = client.get(reverse("wagtailadmin_explore_root"), follow=True)
    body = explorer.content.decode()
    # Network names are public (each has a public site); the other network's pages are not listed.
    assert reverse("wagtailadmin_pages:edit", args=[tenant_a.network.root_page.pk]) in body
    assert reverse("wagtailadmin_pages:edit", args=[tenant_b.network.root_page.pk]) not in body


@pytest.mark.django_db
def test_networks_admin_is_for_superusers(client, tenant_a, superuser):
    url = reverse("wagtailsnippets_network_network:list")
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    assert client.get(url).status_code in {302, 403}
    client.force_login(superuser)
    assert client.get(url).status_code == 200
    assert client.get(reverse("wagtailsnippets_network_network:add")).status_code in {302, 403}


@pytest.mark.django_db
def test_members_menu_item_only_for_network_admins(client, tenant_a, superuser):
    url = reverse("network:network_overview")
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    assert url in client.get("/admin/").content.decode()
    client.force_login(superuser)  # no membership: the workspace page would refuse
    assert url not in client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_operator_without_membership_is_sent_to_the_wagtail_admin(client, superuser):
    client.force_login(superuser)
    response = client.get(reverse("network:workspace"))
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")


@pytest.mark.django_db
def test_operator_sets_consent_length_and_sensitive_categories(client, tenant_a, superuser):
    client.force_login(superuser)
    network = tenant_a.network
    url = reverse("wagtailsnippets_network_network:edit", args=[network.pk])
    response = client.post(
        url,
        {
            "name": network.name,
            "time_zone": network.time_zone,
            "verification_interval_days": "90",
            "consent_days": "180",
            "sensitive_categories": ["incarceration-status"],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    network.refresh_from_db()
    assert (network.consent_days, network.sensitive_categories) == (180, ["incarceration-status"])
    assert "incarceration-status" in network.sensitive_category_codes()
    assert "intimate-partner-violence" in network.sensitive_category_codes()


@pytest.mark.django_db
def test_choosers_leave_a_marker_not_an_inline_script():
    import json

    from wagtail.admin.widgets.workflows import AdminTaskChooser
    from wagtail.documents.widgets import AdminDocumentChooser

    html = AdminDocumentChooser().render("document", None, {"id": "id_document"})
    assert "<script" not in html
    marker = re.search(r'<span hidden data-handoff-new="([^"]+)" data-handoff-id="([^"]+)"', html)
    assert marker is not None
    assert marker.groups() == ("DocumentChooser", "id_document")
    options = re.search(r'data-handoff-options="([^"]*)"', html)
    assert options is not None
    assert isinstance(json.loads(html_unescape(options.group(1))), dict)
    # A chooser Wagtail starts some other way keeps Wagtail's own rendering.
    assert "createTaskChooser" in AdminTaskChooser().render("task", None, {"id": "id_task"})
