"""One clock for everyone (issue 15, bug 3): a time reads the same on every page and in the
email, in the network's zone and in one format, whatever zone the server runs in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from referrals.models import Referral
from referrals.notification_texts import answer_due_texts
from referrals.outbox import notifications_deliver
from referrals.services.notifications import agency_recipients, notify
from tests.conftest import act_as
from tests.referrals.factories import Loop

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock_before_sent_at")]

# 01:00 UTC on the 25th is 5 p.m. on the 24th in the network's zone (America/Los_Angeles): the
# report had "2026-11-24 17:00" on one page and "Nov. 25, 2026, 1 a.m." on others.
DUE = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
LOCAL = "Nov 24, 2026, 5:00 PM"
LOCAL_ES = "24 de noviembre de 2026, 5:00 p.m."


def _due_referral(loop: Loop) -> Referral:
    assert loop.clinic.network.time_zone == "America/Los_Angeles"
    referral = loop.send()
    Referral.objects.filter(pk=referral.pk).update(response_due_at=DUE)
    referral.refresh_from_db()
    return referral


def test_the_formats_are_defined_once_per_language():
    moment = timezone.localtime(DUE, timezone.get_fixed_timezone(-8 * 60))
    assert date_format(moment, "DATETIME_FORMAT") == LOCAL
    assert date_format(moment, "SHORT_DATETIME_FORMAT") == LOCAL
    assert date_format(moment.date(), "DATE_FORMAT") == "Nov 24, 2026"
    with translation.override("es"):
        assert date_format(moment.date(), "DATE_FORMAT") == "24 de noviembre de 2026"


def test_a_due_time_reads_the_same_on_every_page_and_in_the_email(client: HttpClient, loop):
    referral = _due_referral(loop)
    page = reverse("referrals:referral_detail", args=[referral.pk])
    seen = {}
    act_as(client, loop.clinic_staff, loop.clinic)
    seen["tracker"] = client.get(reverse("referrals:referral_tracker")).content.decode()
    seen["clinic referral page"] = client.get(page).content.decode()
    agency = act_as(HttpClient(), loop.agency_staff, loop.food_agency)
    seen["inbox"] = agency.get(reverse("referrals:referral_inbox")).content.decode()
    seen["agency referral page"] = agency.get(page).content.decode()
    with time_machine.travel(DUE + timedelta(hours=3), tick=False):
        admin = act_as(HttpClient(), loop.admin)  # signed in then: no idle timeout
        seen["dashboard's overdue list"] = admin.get(
            reverse("network_dashboard_overdue", args=[loop.food_agency.pk])
        ).content.decode()
        dashboard = admin.get(reverse("network_dashboard")).content.decode()
    # The dashboard's own clock: computed at 04:00 UTC on the 25th, 8 p.m. on the 24th there.
    assert "Nov 24, 2026, 8:00 PM" in dashboard
    with transaction.atomic():
        notify(
            agency_recipients(referral),
            referral=referral,
            kind="referral_due",
            texts=partial(answer_due_texts, referral, due=True),
        )
    mail.outbox.clear()
    notifications_deliver(ids=referral.notifications.values_list("pk", flat=True))
    seen["email"] = "\n".join(message.body for message in mail.outbox)
    seen["in-app notification"] = agency.get(
        reverse("referrals:notification_list")
    ).content.decode()
    missing = [where for where, text in seen.items() if LOCAL not in text]
    assert missing == []
    utc = ["Nov. 25", "Nov 25", "1 a.m.", "1:00 AM", "2026-11-24 17:00", "2026-11-25"]
    shown_utc = [(where, u) for where, text in seen.items() for u in utc if u in text]
    assert shown_utc == []


def test_without_a_network_the_server_zone_stays(client: HttpClient):
    """Anonymous visitors of a host with no network: nothing is activated."""
    assert client.get("/accounts/login/").status_code == 200
    assert timezone.get_current_timezone_name() == "UTC"


def test_the_referral_page_in_spanish_uses_the_spanish_format(client: HttpClient, loop):
    referral = _due_referral(loop)
    act_as(client, loop.clinic_staff, loop.clinic)
    client.cookies["django_language"] = "es"
    body = client.get(reverse("referrals:referral_detail", args=[referral.pk])).content.decode()
    assert LOCAL_ES in body
