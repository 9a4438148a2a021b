"""The lines the overdue sweep writes on a timeline are stored in the site's language and read
in the reader's; people's own words are shown as written (issue 15, bug 9)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from referrals.models import EventKind
from referrals.services.timeline import event_add
from tests.conftest import act_as

pytestmark = pytest.mark.usefixtures("clock_before_sent_at")


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["referrals:referral_detail", "referrals:referral_print"])
def test_the_sweeps_words_follow_the_readers_language(loop, page):
    referral = loop.send()
    at = referral.sent_at + timedelta(hours=1)
    event_add(
        referral, EventKind.REMINDER, at=at, actor=None, organization=None, text="Answer due now"
    )
    # Somebody's message that happens to read like a system line stays as written.
    event_add(
        referral,
        EventKind.MESSAGE,
        at=at,
        actor=loop.clinic_staff,
        organization=loop.clinic,
        text="Outcome overdue",
    )
    http = act_as(HttpClient(), loop.clinic_staff, loop.clinic)
    url = reverse(page, args=[referral.pk])

    english = http.get(url).content.decode()
    assert "Answer due now" in english
    http.cookies["django_language"] = "es"
    spanish = http.get(url).content.decode()
    assert "Answer due now" not in spanish
    assert "Respuesta pendiente ahora" in spanish
    assert "Outcome overdue" in spanish
