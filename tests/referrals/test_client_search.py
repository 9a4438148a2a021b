"""Search that starts from the client: from the client page and the screening result, the
staff search near the client's ZIP code, nearest first, in the client's language, with the
screening's positive needs ticked and the client kept with it."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.urls import reverse

from referrals.models import Client
from referrals.services.clients import screening_record
from tests.referrals.factories import FOOD_WORRIED, OFTEN, all_negative


def _find_link(body: str) -> str:
    found = re.search(r'<a class="button primary find-services" href="([^"]+)">([^<]+)</a>', body)
    assert found, "the page offers a search for this client"
    assert html.unescape(found[2]) == "Find services for Maria Lopez"
    return html.unescape(found[1])


@pytest.mark.django_db
def test_client_page_searches_near_the_client_in_their_language(staff, loop):
    Client.objects.filter(pk=loop.client.pk).update(postal_code="95501")
    screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers={**all_negative(), FOOD_WORRIED: OFTEN},
    )
    url = _find_link(
        staff.get(reverse("referrals:client_detail", args=[loop.client.pk])).content.decode()
    )
    parts = urlsplit(url)
    assert parts.path == reverse("referrals:search")
    params = parse_qsl(parts.query)
    assert ("near", "95501") in params
    assert ("sort", "distance") in params
    assert ("language", "es") in params
    assert ("category", "food-insecurity") in params
    assert ("client", str(loop.client.pk)) in params

    response = staff.get(url)
    assert response.status_code == 200
    query = response.context["query"]
    assert query.sort == "distance"
    assert query.near is not None
    assert query.near.label == "95501"
    assert query.languages == ("es",)
    assert query.categories == ("food-insecurity",)
    assert not response.context["errors"]
    assert "Referring Maria Lopez" in html.unescape(response.content.decode())


@pytest.mark.django_db
def test_screening_result_offers_the_same_search(staff, loop):
    Client.objects.filter(pk=loop.client.pk).update(postal_code="95501")
    screening = screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers={**all_negative(), FOOD_WORRIED: OFTEN},
    )
    page = staff.get(
        reverse("referrals:screening_detail", args=[loop.client.pk, screening.pk])
    ).content.decode()
    params = parse_qsl(urlsplit(_find_link(page)).query)
    assert ("category", "food-insecurity") in params
    assert ("near", "95501") in params


@pytest.mark.django_db
def test_without_a_zip_or_with_english_no_place_or_language_is_forced(staff, loop):
    Client.objects.filter(pk=loop.client.pk).update(postal_code="", preferred_language="en")
    url = _find_link(
        staff.get(reverse("referrals:client_detail", args=[loop.client.pk])).content.decode()
    )
    params = dict(parse_qsl(urlsplit(url).query))
    assert "near" not in params
    assert "sort" not in params
    assert "language" not in params
    assert staff.get(url).status_code == 200
