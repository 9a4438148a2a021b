"""The header of every page: the signed-in person's unread notifications (kept in the cache
until one is added or read; no query where nobody is signed in), and a link to the Wagtail
admin for the roles that work there."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from network import services
from network.models import Role
from referrals.changes import notifications_changed
from referrals.models import Channel, Notification
from referrals.services.notifications import notify as service_notify
from tests.conftest import act_as, cold_queries
from tests.network.factories import Tenant, UserFactory, organization_make
from tests.referrals.factories import Loop, move

WORKSPACE = reverse("network:workspace")
INBOX = reverse("referrals:referral_inbox")  # a page whose only unread count is the header's
UNREAD = re.compile(r'data-testid="unread-count">(\d+)<')
ADMIN_LINK = 'data-testid="admin-link"'


def notify(user, n: int = 1, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Rows of every kind, written directly; then what every writer of notifications does
    (``referrals.services.notifications``): the person's kept count is out of date."""
    for i in range(n):
        Notification.objects.create(
            user=user,
            channel=kwargs.get("channel", Channel.IN_APP),
            kind="referral_received",
            subject=f"New referral #{i}",
            body="A referral arrived.",
            read_at=kwargs.get("read_at"),
        )
    notifications_changed([user.pk])


def unread_shown(client, url: str = WORKSPACE) -> int | None:  # type: ignore[no-untyped-def]
    response = client.get(url)
    assert response.status_code == 200
    found = UNREAD.search(response.content.decode())
    return int(found.group(1)) if found else None


@pytest.mark.django_db
def test_the_header_counts_the_persons_unread_in_app_notifications(client, tenant_a: Tenant):
    staff = tenant_a.users[Role.AGENCY_STAFF]
    act_as(client, staff, tenant_a.agency)
    assert unread_shown(client) is None  # nothing unread: no badge
    notify(staff, 3)
    notify(staff, 2, read_at="2026-01-05T10:00:00Z")  # read
    notify(staff, 4, channel=Channel.EMAIL)  # e-mails are not in the app
    assert unread_shown(client) == 3
    body = client.get(WORKSPACE).content.decode()
    assert re.search(r"Notifications\s*<span[^>]*>3<span class=\"visually-hidden\"> unread", body)
    client.post(reverse("referrals:notifications_read"))
    assert unread_shown(client) is None


@pytest.mark.django_db
def test_nobody_counts_anothers_notifications_in_any_network(
    client, tenant_a: Tenant, tenant_b: Tenant
):
    mine = tenant_a.users[Role.AGENCY_STAFF]
    notify(tenant_a.users[Role.CLINIC_STAFF], 5)  # a colleague in the same network
    notify(tenant_b.users[Role.AGENCY_STAFF], 7)  # the same role in another network
    act_as(client, mine, tenant_a.agency)
    assert unread_shown(client) is None
    notify(mine, 1)
    assert unread_shown(client) == 1


def _unread_queries(captured: CaptureQueriesContext) -> int:
    return sum("referrals_notification" in q["sql"] for q in captured.captured_queries)


@pytest.mark.django_db
def test_the_count_costs_one_query_once_it_changed_and_none_while_kept(client, tenant_a: Tenant):
    staff = tenant_a.users[Role.AGENCY_STAFF]
    act_as(client, staff, tenant_a.agency)
    notify(staff, 1)
    without_processor = [
        {
            **settings.TEMPLATES[0],
            "OPTIONS": {
                **settings.TEMPLATES[0]["OPTIONS"],
                "context_processors": [
                    name
                    for name in settings.TEMPLATES[0]["OPTIONS"]["context_processors"]
                    if name != "referrals.context_processors.notifications"
                ],
            },
        }
    ]
    # Cold (the cache emptied: the page's own kept counts computed again too), then kept.
    with override_settings(TEMPLATES=without_processor), cold_queries() as bare:
        assert client.get(INBOX).status_code == 200
    with cold_queries() as one:
        assert unread_shown(client, INBOX) == 1
    with CaptureQueriesContext(connection) as kept:
        assert unread_shown(client, INBOX) == 1
    notify(staff, 30)
    with CaptureQueriesContext(connection) as renewed:
        assert unread_shown(client, INBOX) == 31
    with cold_queries() as many:
        assert unread_shown(client, INBOX) == 31
    assert len(one.captured_queries) == len(bare.captured_queries) + 1
    assert _unread_queries(one) == 1
    assert _unread_queries(kept) == 0
    assert _unread_queries(renewed) == 1
    assert len(many.captured_queries) == len(one.captured_queries)


@pytest.mark.django_db
def test_anonymous_pages_pay_no_query_for_the_count(client, tenant_a: Tenant):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("login"))
    assert response.status_code == 200
    assert "unread-count" not in response.content.decode()
    assert not [q for q in captured.captured_queries if "referrals_notification" in q["sql"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "shown"),
    [
        (Role.AGENCY_ADMIN, True),
        (Role.NETWORK_ADMIN, True),
        (Role.AGENCY_STAFF, False),
        (Role.CLINIC_STAFF, False),
        (Role.CLINIC_ADMIN, False),
    ],
)
def test_the_admin_link_is_for_agency_and_network_admins_only(
    client, loop: Loop, role: str, shown: bool
):
    place = {
        Role.AGENCY_ADMIN: loop.food_agency,  # which has a listing to edit
        Role.AGENCY_STAFF: loop.food_agency,
        Role.CLINIC_STAFF: loop.clinic,
        Role.CLINIC_ADMIN: loop.clinic,
        Role.NETWORK_ADMIN: None,
    }[role]
    act_as(client, loop.tenant.users[role], place)
    body = client.get(WORKSPACE).content.decode()
    assert (ADMIN_LINK in body) is shown
    admin = client.get(reverse("wagtailadmin_home"))
    if shown:
        assert f'href="{reverse("wagtailadmin_home")}"' in body
        assert admin.status_code == 200  # the link opens the admin for them
    else:
        assert admin.status_code != 200


@pytest.mark.django_db
def test_no_admin_link_for_an_agency_admin_the_admin_would_refuse(client, loop: Loop):
    """An agency without a listing yet: its admin has nothing to edit in the admin."""
    agency = organization_make(loop.tenant.network, "agency", name="Listing Not Yet Made")
    person = UserFactory(username="new-agency-admin")
    services.membership_grant(
        user=person, role=Role.AGENCY_ADMIN, organization=agency, notify=False
    )
    act_as(client, person, agency)
    assert ADMIN_LINK not in client.get(WORKSPACE).content.decode()
    assert client.get(reverse("wagtailadmin_home")).status_code != 200


@pytest.mark.django_db
def test_no_admin_link_for_anonymous_visitors(client):
    assert ADMIN_LINK not in client.get(reverse("login")).content.decode()


@pytest.mark.django_db
def test_the_admin_link_follows_the_acting_membership_not_another_networks_role(
    client, loop: Loop, other_loop: Loop
):
    """The network admin of one network who also works as clinic staff in another gets no link
    while acting there."""
    person = loop.admin
    services.membership_grant(
        user=person, role=Role.CLINIC_STAFF, organization=other_loop.clinic, notify=False
    )
    act_as(client, person, other_loop.clinic)
    assert ADMIN_LINK not in client.get(WORKSPACE).content.decode()
    act_as(client, person, None)
    assert ADMIN_LINK in client.get(WORKSPACE).content.decode()


@pytest.mark.django_db
def test_every_writer_of_notifications_renews_the_kept_count(client, loop: Loop):
    """The count is kept until the person's notifications change; each service that adds or
    reads them says so, so the header is never behind: a referral received (one INSERT …
    SELECT for every holder), a referral answered (``notify``), everything marked read."""
    agency_staff, clinic_staff = loop.agency_staff, loop.clinic_staff
    Notification.objects.filter(channel=Channel.IN_APP).update(read_at="2026-01-05T10:00:00Z")
    act_as(client, agency_staff, loop.food_agency)
    assert unread_shown(client) is None  # and now kept
    referral = loop.send(key="renews")
    assert unread_shown(client) == 1
    act_as(client, clinic_staff, loop.clinic)
    assert unread_shown(client) is None
    move(referral, "accepted", agency_staff, loop.food_agency)
    assert unread_shown(client) == 1
    service_notify(
        [clinic_staff],
        referral=None,
        kind="test",
        texts=lambda: ("Subject", "Body"),
        link="/",
    )
    assert unread_shown(client) == 2
    client.post(reverse("referrals:notifications_read"))
    assert unread_shown(client) is None
    assert (
        Notification.objects.filter(
            user=clinic_staff, channel=Channel.IN_APP, read_at__isnull=True
        ).count()
        == 0
    )
