"""Workspace pages: flows, clear errors with nothing written, and query counts that do not grow."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from network import services
from network.models import Invitation, Membership, Role, User
from tests.conftest import cold_queries
from tests.network.factories import UserFactory, organization_make


def _queries(client, url: str) -> int:
    with cold_queries() as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.django_db
def test_workspace_shows_acting_role_and_organization(client, tenant_a):
    client.force_login(tenant_a.users[Role.AGENCY_ADMIN])
    body = client.get(reverse("network:workspace")).content.decode()
    assert "Agency admin" in body
    assert tenant_a.agency.name in body
    assert reverse("network:organization_members", args=[tenant_a.agency.slug]) in body
    assert reverse("network:network_overview") not in body


@pytest.mark.django_db
def test_switching_active_membership(client, tenant_a):
    user = tenant_a.users[Role.CLINIC_STAFF]
    second = organization_make(tenant_a.network, "clinic", name="Second Clinic")
    other = services.membership_grant(
        user=user, role=Role.CLINIC_ADMIN, organization=second, notify=False
    )
    client.force_login(user)
    response = client.post(
        reverse("network:membership_switch"), {"membership": other.pk}, follow=True
    )
    assert response.context["current_organization"] == second
    assert "You are now working as Second Clinic" in response.content.decode()
    # The choice sticks for the session.
    assert client.get(reverse("network:workspace")).context["current_organization"] == second
    bad = client.post(reverse("network:membership_switch"), {"membership": "nonsense"}, follow=True)
    assert "Choose one of your own organizations" in bad.content.decode()


@pytest.mark.django_db
def test_switcher_needs_post(client, tenant_a):
    client.force_login(tenant_a.users[Role.CLINIC_STAFF])
    assert client.get(reverse("network:membership_switch")).status_code == 405


@pytest.mark.django_db
def test_admin_adds_new_person_who_gets_an_invitation(
    client, tenant_a, django_capture_on_commit_callbacks
):
    client.force_login(tenant_a.users[Role.CLINIC_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("network:member_add", args=[tenant_a.clinic.slug]),
            {
                "email": "Ana.Lopez@Example.org",
                "first_name": "Ana",
                "last_name": "López",
                "role": Role.CLINIC_STAFF,
            },
        )
    assert response.status_code == 302
    user = User.objects.get(email__iexact="ana.lopez@example.org")
    assert not user.has_usable_password()
    assert not Membership.objects.filter(user=user).exists()  # not before they accept
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert tenant_a.clinic.name in message.subject
    link = re.search(r"http://testserver(/accounts/password-reset/\S+)", message.body)
    assert link, message.body
    assert "http://testserver" + reverse("network:invitation_list") in message.body
    # The link lets the person choose a password and sign in.
    client.logout()
    page = client.get(link.group(1), follow=True)
    assert page.context["validlink"]
    client.post(
        page.redirect_chain[-1][0],
        {"new_password1": "a-long-Passphrase-42", "new_password2": "a-long-Passphrase-42"},
    )
    user.refresh_from_db()
    assert user.check_password("a-long-Passphrase-42")
    # Signed in, the workspace sends them to their invitation; accepting makes them a member.
    client.force_login(user)
    assert client.get(reverse("network:workspace"))["Location"] == reverse(
        "network:invitation_list"
    )
    invitation = user.invitations.get()
    client.post(reverse("network:invitation_accept", args=[invitation.pk]))
    assert Membership.objects.get(user=user).role == Role.CLINIC_STAFF


@pytest.mark.django_db
def test_admin_adds_existing_person_by_email(client, tenant_a, django_capture_on_commit_callbacks):
    person = UserFactory(email="sam@example.org")
    client.force_login(tenant_a.users[Role.AGENCY_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("network:member_add", args=[tenant_a.agency.slug]),
            {"email": "SAM@example.org", "role": Role.AGENCY_STAFF},
        )
    assert not Membership.objects.filter(user=person).exists()
    assert person.invitations.get().organization == tenant_a.agency
    assert "password-reset" not in mail.outbox[0].body
    assert User.objects.filter(email__iexact="sam@example.org").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-email", "role": Role.CLINIC_STAFF}, "Enter a valid email address"),
        ({"email": "x@example.org", "role": Role.AGENCY_STAFF}, "Select a valid choice"),
        ({"email": "x@example.org", "role": Role.NETWORK_ADMIN}, "Select a valid choice"),
        ({"email": "", "role": ""}, "This field is required"),
    ],
)
def test_member_add_bad_input_is_explained_and_writes_nothing(client, tenant_a, data, message):
    client.force_login(tenant_a.users[Role.CLINIC_ADMIN])
    users, memberships = User.objects.count(), Membership.objects.count()
    response = client.post(reverse("network:member_add", args=[tenant_a.clinic.slug]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (User.objects.count(), Membership.objects.count()) == (users, memberships)
    assert not Invitation.objects.exists()


@pytest.mark.django_db
def test_member_add_of_existing_user_with_bad_username_writes_nothing(client, tenant_a):
    client.force_login(tenant_a.users[Role.CLINIC_ADMIN])
    users = User.objects.count()
    response = client.post(
        reverse("network:member_add", args=[tenant_a.clinic.slug]),
        {"email": "x" * 140 + "@example.org", "role": Role.CLINIC_STAFF},
    )
    assert response.status_code == 400
    assert User.objects.count() == users


@pytest.mark.django_db
def test_revoked_before_delivery_sends_nothing(tenant_a, django_capture_on_commit_callbacks):
    from network.tasks import membership_notify_granted

    membership = Membership.objects.filter(organization=tenant_a.clinic).first()
    membership_id = membership.pk
    services.membership_revoke(membership=membership)
    assert membership_notify_granted.delay(membership_id).get() is False
    assert mail.outbox == []


@pytest.mark.django_db
def test_invitation_is_in_the_persons_language(tenant_a, django_capture_on_commit_callbacks):
    person = UserFactory(preferred_language="es")
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_grant(user=person, role=Role.CLINIC_STAFF, organization=tenant_a.clinic)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [person.email]


@pytest.mark.django_db
def test_removing_yourself_leaves_the_workspace(client, tenant_a):
    admin = tenant_a.users[Role.CLINIC_ADMIN]
    own = admin.memberships.get()
    client.force_login(admin)
    response = client.post(reverse("network:member_remove", args=[tenant_a.clinic.slug, own.pk]))
    assert response.status_code == 302
    assert client.get(reverse("network:workspace")).status_code == 403


def _grow(tenant, n: int) -> None:
    for _ in range(n):
        org = organization_make(tenant.network, "agency")
        services.membership_grant(
            user=UserFactory(), role=Role.AGENCY_ADMIN, organization=org, notify=False
        )
        services.membership_grant(
            user=UserFactory(), role=Role.CLINIC_STAFF, organization=tenant.clinic, notify=False
        )
        services.invitation_create(
            organization=tenant.clinic, email=UserFactory().email, role=Role.CLINIC_STAFF, by=None
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "url"),
    [
        (Role.CLINIC_STAFF, lambda t: reverse("network:organization_list")),
        (Role.NETWORK_ADMIN, lambda t: reverse("network:organization_list")),
        (
            Role.CLINIC_ADMIN,
            lambda t: reverse("network:organization_members", args=[t.clinic.slug]),
        ),
        (Role.NETWORK_ADMIN, lambda t: reverse("network:network_overview")),
        (Role.NETWORK_ADMIN, lambda t: reverse("wagtailsnippets_network_organization:list")),
    ],
    ids=["organizations", "organizations-admin", "members", "network-overview", "wagtail-list"],
)
def test_list_query_count_does_not_grow_with_rows(client, tenant_a, role, url):
    client.force_login(tenant_a.users[role])
    _grow(tenant_a, 2)
    small = _queries(client, url(tenant_a))
    _grow(tenant_a, 12)
    large = _queries(client, url(tenant_a))
    assert large == small, f"{small} queries with few rows, {large} with many"
