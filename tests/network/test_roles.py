"""Each role reaches what it should and gets 403 elsewhere; outsiders and anonymous get nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from network.models import Role

ALL = {r.value for r in Role}
CLINIC_ADMINS = {Role.CLINIC_ADMIN, Role.NETWORK_ADMIN}
AGENCY_ADMINS = {Role.AGENCY_ADMIN, Role.NETWORK_ADMIN}

# (name, url builder, roles allowed): every other role gets 403.
PAGES = [
    ("workspace", lambda t: reverse("network:workspace"), ALL),
    ("organization list", lambda t: reverse("network:organization_list"), ALL),
    ("clinic detail", lambda t: reverse("network:organization_detail", args=[t.clinic.slug]), ALL),
    ("agency detail", lambda t: reverse("network:organization_detail", args=[t.agency.slug]), ALL),
    (
        "clinic members",
        lambda t: reverse("network:organization_members", args=[t.clinic.slug]),
        CLINIC_ADMINS,
    ),
    (
        "agency members",
        lambda t: reverse("network:organization_members", args=[t.agency.slug]),
        AGENCY_ADMINS,
    ),
    ("network overview", lambda t: reverse("network:network_overview"), {Role.NETWORK_ADMIN}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(ALL))
@pytest.mark.parametrize(("name", "url", "allowed"), PAGES, ids=[p[0] for p in PAGES])
def test_role_reaches_only_its_pages(client, tenant_a, role, name, url, allowed):
    client.force_login(tenant_a.users[role])
    response = client.get(url(tenant_a))
    expected = 200 if role in allowed else 403
    assert response.status_code == expected, f"{role} on {name}"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "url", "allowed"), PAGES, ids=[p[0] for p in PAGES])
def test_user_without_membership_gets_403(client, tenant_a, outsider, name, url, allowed):
    client.force_login(outsider)
    response = client.get(url(tenant_a))
    assert response.status_code == 403
    assert tenant_a.clinic.name.encode() not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "url", "allowed"), PAGES, ids=[p[0] for p in PAGES])
def test_anonymous_is_sent_to_login(client, tenant_a, name, url, allowed):
    response = client.get(url(tenant_a))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(ALL))
def test_member_add_only_by_admins(client, tenant_a, role):
    client.force_login(tenant_a.users[role])
    response = client.post(
        reverse("network:member_add", args=[tenant_a.clinic.slug]),
        {"email": "new.person@example.org", "role": Role.CLINIC_STAFF},
    )
    # Admins invite (nobody joins before accepting); the others are refused and invite nobody.
    assert not tenant_a.clinic.memberships.filter(user__email="new.person@example.org").exists()
    invited = tenant_a.clinic.invitations.filter(email="new.person@example.org").exists()
    if role in CLINIC_ADMINS:
        assert response.status_code == 302
        assert invited
    else:
        assert response.status_code == 403
        assert not invited


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(ALL))
def test_member_remove_only_by_admins(client, tenant_a, role):
    target = tenant_a.clinic.memberships.get(role=Role.CLINIC_STAFF)
    client.force_login(tenant_a.users[role])
    response = client.post(reverse("network:member_remove", args=[tenant_a.clinic.slug, target.pk]))
    still_there = tenant_a.clinic.memberships.filter(pk=target.pk).exists()
    if role in CLINIC_ADMINS:
        assert response.status_code == 302
        assert not still_there
    else:
        assert response.status_code == 403
        assert still_there


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(ALL))
def test_wagtail_admin_only_for_network_admins(client, tenant_a, role):
    client.force_login(tenant_a.users[role])
    response = client.get("/admin/")
    if role == Role.NETWORK_ADMIN:
        assert response.status_code == 200
    else:
        assert response.status_code in {302, 403}
        assert b"Dashboard" not in response.content


@pytest.mark.django_db
def test_django_admin_is_not_routed(client, superuser):
    client.force_login(superuser)
    assert client.get("/django-admin/").status_code == 404
    assert client.get("/django-admin/login/").status_code == 404
