"""Nobody joins an organization without saying yes: invitations, neutral answers, the acting
organization a sign-in starts in, and the header that names it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from network import services
from network.models import Invitation, InvitationStatus, Membership, Role
from tests.network.factories import UserFactory, organization_make


def _invite(client: Client, tenant, email: str, role: str = Role.CLINIC_STAFF):
    return client.post(
        reverse("network:member_add", args=[tenant.clinic.slug]),
        {"email": email, "first_name": "Typed", "last_name": "Name", "role": role},
        follow=True,
    )


def _invitation(tenant, email: str, **kwargs):  # type: ignore[no-untyped-def]
    """The clinic admin of ``tenant`` invites ``email`` to the clinic as staff."""
    return services.invitation_create(
        organization=tenant.clinic,
        email=email,
        role=Role.CLINIC_STAFF,
        by=tenant.users[Role.CLINIC_ADMIN],
        **kwargs,
    )


@pytest.mark.django_db
def test_another_networks_admin_cannot_add_a_person_without_their_yes(
    client, tenant_a, tenant_b, django_capture_on_commit_callbacks
):
    """The finding: a Del Norte clinic admin added a Humboldt user by email; the person's next
    sign-in landed in the Del Norte clinic."""
    person = tenant_a.users[Role.CLINIC_STAFF]
    client.force_login(tenant_b.users[Role.CLINIC_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        response = _invite(client, tenant_b, person.email)
    assert response.status_code == 200
    assert not Membership.objects.filter(user=person, network=tenant_b.network).exists()
    assert not tenant_b.clinic.memberships.filter(user=person).exists()
    # The person is asked, by email, and nothing else changes for them.
    assert [m.to for m in mail.outbox] == [[person.email]]
    assert "accept" in mail.outbox[0].body
    fresh = Client()
    fresh.force_login(person)
    workspace = fresh.get(reverse("network:workspace"))
    assert workspace.context["current_organization"] == tenant_a.clinic
    assert tenant_b.clinic.name not in workspace.content.decode()
    # The inviting admin's members page lists the address as pending, not a member.
    members = client.get(reverse("network:organization_members", args=[tenant_b.clinic.slug]))
    body = members.content.decode()
    assert person.email in body
    assert person.get_full_name() not in body
    assert f"<td>{person.username}</td>" not in body


@pytest.mark.django_db
def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(client, tenant_a):
    owner = UserFactory(first_name="Zebulon", last_name="Quixote-Marchetti")
    client.force_login(tenant_a.users[Role.CLINIC_ADMIN])
    known = _invite(client, tenant_a, owner.email)
    unknown = _invite(client, tenant_a, "nobody.yet@example.org")
    assert known.status_code == unknown.status_code == 200
    known_message = [str(m) for m in known.context["messages"]]
    unknown_message = [str(m) for m in unknown.context["messages"]]
    assert [m.replace(owner.email, "<address>") for m in known_message] == [
        m.replace("nobody.yet@example.org", "<address>") for m in unknown_message
    ]
    for body in (known.content.decode(), unknown.content.decode()):
        assert "Zebulon" not in body
        assert "Quixote-Marchetti" not in body
        assert f"<td>{owner.username}</td>" not in body
    # Neither has become a member; both wait for an answer.
    assert not tenant_a.clinic.memberships.filter(user__email=owner.email).exists()
    assert not tenant_a.clinic.memberships.filter(user__email="nobody.yet@example.org").exists()
    assert set(tenant_a.clinic.invitations.values_list("email", flat=True)) == {
        owner.email,
        "nobody.yet@example.org",
    }
    # The typed name never replaces the account owner's own.
    owner.refresh_from_db()
    assert owner.get_full_name() == "Zebulon Quixote-Marchetti"


@pytest.mark.django_db
def test_inviting_twice_renews_one_invitation(tenant_a):
    admin = tenant_a.users[Role.CLINIC_ADMIN]
    first = services.invitation_create(
        organization=tenant_a.clinic, email="x@example.org", role=Role.CLINIC_STAFF, by=admin
    )
    second = services.invitation_create(
        organization=tenant_a.clinic, email="X@example.org", role=Role.CLINIC_ADMIN, by=admin
    )
    assert first.pk == second.pk
    assert Invitation.objects.get().role == Role.CLINIC_ADMIN


@pytest.mark.django_db
def test_accepting_creates_the_membership_and_declining_does_not(client, tenant_a):
    admin = tenant_a.users[Role.CLINIC_ADMIN]
    yes, no = UserFactory(), UserFactory()
    for person in (yes, no):
        services.invitation_create(
            organization=tenant_a.clinic, email=person.email, role=Role.CLINIC_STAFF, by=admin
        )

    client.force_login(yes)
    page = client.get(reverse("network:invitation_list"))
    assert tenant_a.clinic.name in page.content.decode()
    invitation = yes.invitations.get()
    response = client.post(reverse("network:invitation_accept", args=[invitation.pk]))
    assert response.status_code == 302
    membership = Membership.objects.get(user=yes)
    assert (membership.organization, membership.role) == (tenant_a.clinic, Role.CLINIC_STAFF)
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ACCEPTED
    # Answered once: it cannot be answered again.
    again = client.post(reverse("network:invitation_decline", args=[invitation.pk]))
    assert again.status_code == 404
    assert Membership.objects.filter(user=yes).count() == 1

    client.force_login(no)
    invitation = no.invitations.get()
    response = client.post(reverse("network:invitation_decline", args=[invitation.pk]))
    assert response.status_code == 302
    assert not Membership.objects.filter(user=no).exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.DECLINED
    assert (
        client.post(reverse("network:invitation_accept", args=[invitation.pk])).status_code == 404
    )
    assert not Membership.objects.filter(user=no).exists()


@pytest.mark.django_db
def test_nobody_can_answer_someone_elses_invitation(client, tenant_a, tenant_b):
    person = UserFactory()
    invitation = _invitation(tenant_a, person.email)
    for intruder in (tenant_b.users[Role.CLINIC_ADMIN], tenant_a.users[Role.CLINIC_STAFF]):
        client.force_login(intruder)
        for name in ("network:invitation_accept", "network:invitation_decline"):
            response = client.post(reverse(name, args=[invitation.pk]))
            assert response.status_code == 404
            assert person.email not in response.content.decode()
        listing = client.get(reverse("network:invitation_list")).content.decode()
        assert person.email not in listing
        assert reverse("network:invitation_accept", args=[invitation.pk]) not in listing
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING
    assert not Membership.objects.filter(user__in=[person]).exists()
    assert not Membership.objects.filter(
        organization=tenant_a.clinic, user=tenant_b.users[Role.CLINIC_ADMIN]
    ).exists()


@pytest.mark.django_db
def test_invitation_answers_need_post_and_sign_in(client, tenant_a):
    person = UserFactory()
    invitation = _invitation(tenant_a, person.email)
    url = reverse("network:invitation_accept", args=[invitation.pk])
    assert client.post(url)["Location"].startswith(reverse("login"))
    client.force_login(person)
    assert client.get(url).status_code == 405
    assert not Membership.objects.filter(user=person).exists()


@pytest.mark.django_db
def test_an_expired_invitation_cannot_be_accepted(client, tenant_a):
    person = UserFactory()
    invitation = _invitation(
        tenant_a,
        person.email,
        now=timezone.now() - timedelta(days=services.INVITATION_DAYS, seconds=1),
    )
    client.force_login(person)
    assert (
        tenant_a.clinic.name not in client.get(reverse("network:invitation_list")).content.decode()
    )
    assert (
        client.post(reverse("network:invitation_accept", args=[invitation.pk])).status_code == 404
    )
    with pytest.raises(services.InvitationClosed):
        services.invitation_accept(invitation=invitation, by=person)
    assert not Membership.objects.filter(user=person).exists()
    # Nor is it listed as pending to the organization's admins any more.
    client.force_login(tenant_a.users[Role.CLINIC_ADMIN])
    members = client.get(reverse("network:organization_members", args=[tenant_a.clinic.slug]))
    assert person.email not in members.content.decode()


@pytest.mark.django_db
def test_an_invitation_from_someone_no_longer_admin_cannot_be_accepted(client, tenant_a):
    admin = tenant_a.users[Role.CLINIC_ADMIN]
    person = UserFactory()
    invitation = services.invitation_create(
        organization=tenant_a.clinic, email=person.email, role=Role.CLINIC_ADMIN, by=admin
    )
    services.membership_grant(user=admin, role=Role.CLINIC_STAFF, organization=tenant_a.clinic)
    client.force_login(person)
    response = client.post(reverse("network:invitation_accept", args=[invitation.pk]), follow=True)
    assert "can no longer" in response.content.decode()
    assert not Membership.objects.filter(user=person).exists()


@pytest.mark.django_db
def test_admins_withdraw_an_invitation_and_nobody_else_can(client, tenant_a, tenant_b):
    person = UserFactory()
    invitation = _invitation(tenant_a, person.email)
    url = reverse("network:invitation_withdraw", args=[tenant_a.clinic.slug, invitation.pk])
    client.force_login(tenant_a.users[Role.CLINIC_STAFF])
    assert client.post(url).status_code == 403
    client.force_login(tenant_b.users[Role.CLINIC_ADMIN])
    assert client.post(url).status_code == 404
    # Another organization's admin, through their own organization's address: not found.
    client.force_login(tenant_a.users[Role.AGENCY_ADMIN])
    own = reverse("network:invitation_withdraw", args=[tenant_a.agency.slug, invitation.pk])
    assert client.post(own).status_code == 404
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.PENDING

    client.force_login(tenant_a.users[Role.CLINIC_ADMIN])
    assert client.post(url).status_code == 302
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.WITHDRAWN
    client.force_login(person)
    assert (
        client.post(reverse("network:invitation_accept", args=[invitation.pk])).status_code == 404
    )
    assert not Membership.objects.filter(user=person).exists()


@pytest.mark.django_db
def test_staff_cannot_invite_and_do_not_see_pending_invitations(client, tenant_a):
    _invitation(tenant_a, "pending.person@example.org")
    client.force_login(tenant_a.users[Role.CLINIC_STAFF])
    members = client.get(reverse("network:organization_members", args=[tenant_a.clinic.slug]))
    assert members.status_code == 403
    assert "pending.person@example.org" not in members.content.decode()
    response = _invite(client, tenant_a, "someone.else@example.org")
    assert response.status_code == 403
    assert not Invitation.objects.filter(email="someone.else@example.org").exists()


@pytest.mark.django_db
def test_a_sign_in_acts_where_the_person_last_chose_not_the_first_by_name(tenant_a, tenant_b):
    # "Bravo" sorts after "Alpha": the old default (first by network name) would pick Alpha.
    person = tenant_b.users[Role.CLINIC_STAFF]
    invitation = _invitation(tenant_a, person.email)
    alpha = services.invitation_accept(invitation=invitation, by=person)
    bravo = Membership.objects.get(user=person, organization=tenant_b.clinic)

    def signed_in_organization():
        browser = Client()
        browser.force_login(person)
        return browser, browser.get(reverse("network:workspace")).context["current_organization"]

    # Accepting does not move anyone: the membership they already had stays where they start.
    assert signed_in_organization()[1] == tenant_b.clinic
    browser, _ = signed_in_organization()
    browser.post(reverse("network:membership_switch"), {"membership": alpha.pk})
    assert signed_in_organization()[1] == tenant_a.clinic  # a new sign-in starts there
    browser, _ = signed_in_organization()
    browser.post(reverse("network:membership_switch"), {"membership": bravo.pk})
    assert signed_in_organization()[1] == tenant_b.clinic


@pytest.mark.django_db
def test_a_membership_added_later_does_not_become_where_a_sign_in_starts(tenant_a, tenant_b):
    person = tenant_b.users[Role.CLINIC_STAFF]
    # Granted directly (as the demo seed does), in a network whose name sorts first.
    services.membership_grant(
        user=person, role=Role.CLINIC_STAFF, organization=tenant_a.clinic, notify=False
    )
    browser = Client()
    browser.force_login(person)
    response = browser.get(reverse("network:workspace"))
    assert response.context["current_organization"] == tenant_b.clinic


@pytest.mark.django_db
def test_the_header_names_the_acting_organization_and_network(client, tenant_a):
    client.force_login(tenant_a.users[Role.CLINIC_STAFF])
    body = client.get(reverse("network:organization_list")).content.decode()
    acting = body[body.index('class="acting') :]
    acting = acting[: acting.index("</div>")]
    assert tenant_a.clinic.name in acting
    assert tenant_a.network.name in acting
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    body = client.get(reverse("network:organization_list")).content.decode()
    acting = body[body.index('class="acting') :]
    assert tenant_a.network.name in acting[: acting.index("</div>")]


@pytest.mark.django_db
def test_invitation_list_query_count_does_not_grow_with_rows(
    client, tenant_a, django_assert_max_num_queries
):
    person = UserFactory()

    def grow(n: int) -> None:
        for _ in range(n):
            organization = organization_make(tenant_a.network, "clinic")
            admin = UserFactory()
            services.membership_grant(
                user=admin, role=Role.CLINIC_ADMIN, organization=organization, notify=False
            )
            services.invitation_create(
                organization=organization, email=person.email, role=Role.CLINIC_STAFF, by=admin
            )

    client.force_login(person)
    grow(2)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert client.get(reverse("network:invitation_list")).status_code == 200
    grow(10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        body = client.get(reverse("network:invitation_list")).content.decode()
    assert body.count('action="/workspace/invitations/') == 24


@pytest.mark.django_db
def test_plain_text_emails_are_not_html_escaped(tenant_a, django_capture_on_commit_callbacks):
    person = UserFactory(first_name="Ana <img src=x>", last_name="& Co")
    organization = organization_make(tenant_a.network, "clinic", name="Smith & Jones <Clinic>")
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_grant(
            user=tenant_a.users[Role.CLINIC_ADMIN],
            role=Role.CLINIC_ADMIN,
            organization=organization,
            notify=False,
        )
        services.invitation_create(
            organization=organization,
            email=person.email,
            role=Role.CLINIC_STAFF,
            by=tenant_a.users[Role.CLINIC_ADMIN],
        )
        services.membership_grant(user=person, role=Role.AGENCY_STAFF, organization=tenant_a.agency)
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "Hello Ana <img src=x>," in message.body
        assert "&lt;" not in message.body + message.subject
        assert "&amp;" not in message.body + message.subject
    invitation_mail = mail.outbox[0]
    assert "Smith & Jones <Clinic>" in invitation_mail.subject
    assert "Smith & Jones <Clinic>" in invitation_mail.body
