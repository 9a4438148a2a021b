"""People read their in-app notifications; the list costs the same queries for any number."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from referrals.models import Channel, Notification
from referrals.services.transitions import referral_message

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

LIST = reverse("referrals:notification_list")


@pytest.mark.django_db
def test_agency_staff_see_and_clear_their_notifications(client, loop):
    referral = loop.send()
    client.force_login(loop.agency_staff)
    body = client.get(LIST).content.decode()
    assert f"New referral #{referral.pk}" in body
    assert reverse("referrals:referral_detail", args=[referral.pk]) in body
    assert loop.client.last_name not in body  # notifications never carry client details
    client.post(reverse("referrals:notifications_read"))
    assert not Notification.objects.filter(
        user=loop.agency_staff, channel=Channel.IN_APP, read_at__isnull=True
    ).exists()


@pytest.mark.django_db
def test_nobody_sees_anothers_notifications(client, loop):
    loop.send()
    client.force_login(loop.clinic_staff)  # the sender is told of changes, not of the send
    assert "New referral" not in client.get(LIST).content.decode()


@pytest.mark.django_db
def test_list_query_count_is_constant(client, loop):
    client.force_login(loop.agency_staff)
    loop.send(key="a")
    with CaptureQueriesContext(connection) as few:
        client.get(LIST)
    for n in range(12):
        referral = loop.send(key=f"more-{n}")
        referral_message(
            referral=referral, by=loop.clinic_staff, organization=loop.clinic, text="Update"
        )
    with CaptureQueriesContext(connection) as many:
        client.get(LIST)
    assert len(many.captured_queries) == len(few.captured_queries)
