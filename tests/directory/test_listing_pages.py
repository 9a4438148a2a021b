"""The agency's listings: one-click capacity, confirming the listing is current, suggesting a
change for the network's admins; only for the agency's own pages."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.text import slugify

from directory.models import (
    AgencyPage,
    ListingSuggestion,
    ListingVerification,
    ServiceCapacity,
    ServicePage,
)
from tests.conftest import act_as, queries_cold
from tests.referrals.factories import Loop

LISTINGS = reverse("directory:agency_listings")
CONFIRM = reverse("directory:listing_confirm")
SUGGEST = reverse("directory:listing_suggest")
pytestmark = pytest.mark.django_db


def capacity_url(service: ServicePage) -> str:
    return reverse("directory:capacity_update", args=[service.pk])


def capacity_of(service: ServicePage) -> str | None:
    row = ServiceCapacity.objects.filter(service=service).first()
    return row.status if row else None


def food_listing(loop: Loop) -> AgencyPage:
    return AgencyPage.objects.get(organization=loop.food_agency)


def add_services(loop: Loop, count: int) -> list[ServicePage]:
    listing = food_listing(loop)
    made = []
    for n in range(count):
        service = ServicePage(
            title=f"Extra service {n}", slug=slugify(f"extra {n}"), description="x"
        )
        listing.add_child(instance=service)
        ServiceCapacity.objects.create(service=service, status="waitlist")
        made.append(service)
    return made


def as_food_staff(client, loop: Loop) -> None:  # type: ignore[no-untyped-def]
    act_as(client, loop.agency_staff, loop.food_agency)


def test_the_page_lists_the_agencys_services_with_their_capacity(client, loop):
    as_food_staff(client, loop)
    response = client.get(LISTINGS)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Harbor Food Bank" in body
    assert "Harbor Food Pantry" in body
    assert "Rent Help" not in body  # another agency's service
    assert 'data-testid="capacity">Accepting clients<' in body
    assert 'aria-pressed="true" class="primary">Accepting</button>' in body
    assert "Confirm my listing is current" in body
    assert 'data-testid="stale"' in body  # the agency page was never confirmed


def test_one_click_capacity_redirects_back_without_javascript(client, loop):
    as_food_staff(client, loop)
    response = client.post(capacity_url(loop.food), {"status": "waitlist"})
    assert response.status_code == 302
    assert response["Location"] == LISTINGS
    assert capacity_of(loop.food) == "waitlist"
    capacity = ServiceCapacity.objects.get(service=loop.food)
    assert capacity.updated_by == loop.agency_staff
    assert "Harbor Food Pantry: Waitlist." in client.get(LISTINGS).content.decode()


def test_htmx_gets_the_updated_row_only(client, loop):
    as_food_staff(client, loop)
    response = client.post(
        capacity_url(loop.food), {"status": "not-accepting"}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert body.strip().startswith(f'<li class="service-card" id="service-{loop.food.pk}"')
    assert 'data-testid="capacity">Not accepting clients<' in body
    assert "Saved." in body
    assert capacity_of(loop.food) == "not-accepting"


def test_an_unknown_capacity_is_refused_and_nothing_changes(client, loop):
    as_food_staff(client, loop)
    response = client.post(capacity_url(loop.food), {"status": "full-ish"}, follow=True)
    assert "Choose accepting, waitlist or not accepting; nothing was changed." in (
        response.content.decode()
    )
    assert capacity_of(loop.food) == "accepting"
    htmx = client.post(capacity_url(loop.food), {}, headers={"HX-Request": "true"})
    assert htmx.status_code == 400
    assert "nothing was changed" in htmx.content.decode()
    assert capacity_of(loop.food) == "accepting"


def test_capacity_is_only_read_by_post(client, loop):
    as_food_staff(client, loop)
    assert client.get(capacity_url(loop.food)).status_code == 405
    assert client.get(CONFIRM).status_code == 405


def test_confirming_marks_the_listing_and_its_services_current(client, loop):
    as_food_staff(client, loop)
    response = client.post(CONFIRM)
    assert response.status_code == 302
    listing = food_listing(loop)
    verified = ListingVerification.objects.filter(page_id__in=[listing.pk, loop.food.pk])
    assert verified.count() == 2
    assert {v.verified_by for v in verified} == {loop.agency_staff}
    body = client.get(LISTINGS).content.decode()
    assert "marked as current" in body
    assert 'data-testid="stale"' not in body
    assert ListingVerification.objects.get(page=loop.housing).last_verified_at is not None
    housing_row = ListingVerification.objects.get(page=loop.housing)
    assert housing_row.verified_by is None  # another agency's service: untouched


def test_suggesting_a_change_queues_it_for_the_networks_admins(client, loop):
    as_food_staff(client, loop)
    form = client.get(SUGGEST, {"page": loop.food.pk})
    body = form.content.decode()
    assert form.status_code == 200
    assert '<label for="id_text">What should change' in body
    assert '<label for="id_page">Which page' in body
    assert f'<option value="{loop.food.pk}" selected>Harbor Food Pantry</option>' in body
    assert "Rent Help" not in body
    response = client.post(
        SUGGEST,
        {"page": loop.food.pk, "field_name": "hours", "text": " We now open Saturdays. "},
    )
    assert response.status_code == 302
    suggestion = ListingSuggestion.objects.get()
    assert (suggestion.page_id, suggestion.field_name, suggestion.text, suggestion.status) == (
        loop.food.pk,
        "hours",
        "We now open Saturdays.",
        "open",
    )
    assert (suggestion.network, suggestion.organization, suggestion.suggested_by) == (
        loop.tenant.network,
        loop.food_agency,
        loop.agency_staff,
    )


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"text": "   "}, "Say what should change."),
        ({"text": "x" * 5001}, "Ensure this value has at most 5000 characters"),
        ({"text": "Fine", "field_name": "secret"}, "Select a valid choice."),
        ({"text": "Fine", "page": "rent"}, "Select a valid choice."),
    ],
)
def test_bad_suggestions_are_refused_and_nothing_is_written(client, loop, data, error):
    as_food_staff(client, loop)
    response = client.post(SUGGEST, {"page": loop.food.pk, **data})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not ListingSuggestion.objects.exists()


def test_a_suggestion_about_another_agencys_page_is_refused(client, loop):
    as_food_staff(client, loop)
    response = client.post(SUGGEST, {"page": loop.housing.pk, "text": "Close it"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not ListingSuggestion.objects.exists()


def test_the_listings_page_costs_the_same_queries_for_1_or_8_services(client, loop):
    as_food_staff(client, loop)
    few = queries_cold(client, LISTINGS)
    add_services(loop, 7)
    body = client.get(LISTINGS).content.decode()
    assert body.count('class="service-card"') == 8
    assert queries_cold(client, LISTINGS) == few


def test_an_agency_without_a_listing_is_told_so(client, loop):
    """The tenant's agency staff also work at an agency with no directory listing."""
    act_as(client, loop.agency_staff, loop.tenant.agency)
    response = client.get(LISTINGS)
    assert response.status_code == 200
    assert 'data-testid="no-listing"' in response.content.decode()
    assert client.post(CONFIRM).status_code == 404
    assert client.get(SUGGEST).status_code == 404
    assert client.post(capacity_url(loop.food), {"status": "waitlist"}).status_code == 404
    assert capacity_of(loop.food) == "accepting"


# --- who may act on them -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["clinic staff", "network admin"])
def test_people_who_keep_no_listing_are_refused(client, loop, who):
    if who == "clinic staff":
        act_as(client, loop.clinic_staff, loop.clinic)
    else:
        act_as(client, loop.admin)
    for response in (
        client.get(LISTINGS),
        client.post(capacity_url(loop.food), {"status": "waitlist"}),
        client.post(CONFIRM),
        client.get(SUGGEST),
        client.post(SUGGEST, {"page": loop.food.pk, "text": "Close it"}),
    ):
        assert response.status_code == 403
        assert "Harbor Food Pantry" not in response.content.decode()
    assert capacity_of(loop.food) == "accepting"
    assert not ListingVerification.objects.filter(verified_by__isnull=False).exists()
    assert not ListingSuggestion.objects.exists()


def test_another_agencys_staff_cannot_touch_this_agencys_services(client, loop):
    act_as(client, loop.users["housing_staff"], loop.housing_agency)
    body = client.get(LISTINGS).content.decode()
    assert "Rent Help" in body
    assert "Harbor Food Pantry" not in body
    assert client.post(capacity_url(loop.food), {"status": "waitlist"}).status_code == 404
    assert capacity_of(loop.food) == "accepting"
    client.post(CONFIRM)  # confirms their own listing only
    assert not ListingVerification.objects.filter(
        page=loop.food, verified_by__isnull=False
    ).exists()


def test_another_networks_staff_cannot_touch_this_networks_services(client, loop, other_loop):
    act_as(client, other_loop.agency_staff, other_loop.food_agency)
    assert client.post(capacity_url(loop.food), {"status": "waitlist"}).status_code == 404
    response = client.post(SUGGEST, {"page": loop.food.pk, "text": "Close it"})
    assert response.status_code == 400
    assert capacity_of(loop.food) == "accepting"
    assert not ListingSuggestion.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, loop):
    for response in (
        client.get(LISTINGS),
        client.post(capacity_url(loop.food), {"status": "waitlist"}),
    ):
        assert response.status_code == 302
        assert reverse("login") in response["Location"]
    assert capacity_of(loop.food) == "accepting"
