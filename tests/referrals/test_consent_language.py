"""The consent script in the client's language (issue 15, bug 9): read in the client's
preferred language when the script exists in it, whatever the staff member's interface
speaks; staff may switch, and what is stored is what was read."""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from consent.models import Consent
from consent.wording import script_language, verbal_consent_script
from referrals.forms import consent_script
from referrals.models import Client
from tests.conftest import act_as

pytestmark = pytest.mark.django_db

NEW = reverse("referrals:referral_new")


def _script(loop, language: str, needs=("food-insecurity",)) -> str:  # type: ignore[no-untyped-def]
    return verbal_consent_script(
        clinic=loop.clinic.name, recipients=[], needs=list(needs), language=language
    )


@pytest.mark.parametrize(
    ("preferred", "chosen", "language"),
    [("es", None, "es"), ("es", "en", "en"), ("hmn", None, "en"), ("", "es", "es")],
)
def test_the_script_language(preferred, chosen, language):
    assert script_language(preferred=preferred, chosen=chosen) == language


def test_the_script_follows_the_client_not_the_interface(loop):
    spanish, english = _script(loop, "es"), _script(loop, "en")
    assert spanish != english
    assert "Alimentación" in spanish
    assert "Food" in english


def test_the_consent_page_reads_the_script_in_the_clients_language(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)  # an English interface
    url = reverse("referrals:consent_new", args=[loop.client.pk])
    page = client.get(url, {"categories": ["food-insecurity"]}).content.decode()
    assert html.escape(_script(loop, "es")) in page
    assert html.escape(_script(loop, "en")) not in page
    assert re.search(r'name="script_language" value="es"[^>]*checked', page)
    switched = client.get(url, {"categories": ["food-insecurity"], "script_language": "en"})
    assert html.escape(_script(loop, "en")) in switched.content.decode()


def test_the_consent_stores_the_words_read_in_the_language_read(client, loop):
    act_as(client, loop.clinic_staff, loop.clinic)
    url = reverse("referrals:consent_new", args=[loop.client.pk])
    needs = ["food-insecurity"]
    data = {
        "scope": "network",
        "categories": needs,
        "method": "verbal",
        "policy": "hipaa",
        "attested": "on",
        "script_language": "en",
        "script_shown": consent_script(
            clinic=loop.clinic, recipients=[], categories=needs, language="en"
        ),
        "action": "save",
    }
    assert client.post(url, data).status_code == 302
    consent = Consent.objects.filter(client=loop.client).exclude(pk=loop.consent.pk).get()
    assert consent.attestation == _script(loop, "en")
    # The Spanish words shown while English is chosen are refused: not what was confirmed.
    data["script_shown"] = consent_script(
        clinic=loop.clinic, recipients=[], categories=needs, language="es"
    )
    assert client.post(url, data).status_code == 400


def test_the_send_page_reads_the_script_in_the_clients_language(client, loop):
    Client.objects.filter(pk=loop.client.pk).update(preferred_language="es")
    act_as(client, loop.clinic_staff, loop.clinic)
    query = {"service": [loop.food.pk], "client": loop.client.pk, "categories": "food-insecurity"}
    page = html.unescape(client.get(NEW, query).content.decode())
    wanted = verbal_consent_script(
        clinic=loop.clinic.name,
        recipients=[loop.food_agency.name],
        needs=["food-insecurity"],
        language="es",
    )
    assert wanted in page
    assert 'lang="es">' + wanted in page
    checked = client.post(
        NEW,
        {**query, "action": "check", "script_language": "en", "urgency": "routine"},
    )
    english = verbal_consent_script(
        clinic=loop.clinic.name,
        recipients=[loop.food_agency.name],
        needs=["food-insecurity"],
        language="en",
    )
    assert english in html.unescape(checked.content.decode())
