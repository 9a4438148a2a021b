"""Network admins review agencies' listing suggestions in the Wagtail admin, for their own
network only."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from directory import services as directory_services
from directory.models import ListingSuggestion
from network.models import Role
from tests.referrals.factories import Loop

pytestmark = pytest.mark.django_db


def url(action: str, *args: object) -> str:
    return reverse(f"wagtailsnippets_directory_listingsuggestion:{action}", args=args)


def suggest(loop: Loop, text: str = "We now open Saturdays.") -> ListingSuggestion:
    return directory_services.listing_suggestion_create(
        page=loop.food,
        organization=loop.food_agency,
        by=loop.agency_staff,
        text=text,
        field_name="hours",
    )


def test_admin_lists_only_their_networks_suggestions(client, loop, other_loop):
    ours = suggest(loop, "Ours: open Saturdays.")
    suggest(other_loop, "Theirs: closed Mondays.")
    client.force_login(loop.admin)
    body = client.get(url("list")).content.decode()
    assert "Harbor Food Pantry" in body
    assert url("edit", ours.pk) in body
    assert client.get(url("edit", ours.pk)).status_code == 200
    theirs = ListingSuggestion.objects.exclude(pk=ours.pk).get()
    assert client.get(url("edit", theirs.pk)).status_code == 404
    assert client.post(url("edit", theirs.pk), {"status": "dismissed"}).status_code == 404
    assert ListingSuggestion.objects.get(pk=theirs.pk).status == "open"


def test_admin_marks_a_suggestion_applied_and_who_when_is_recorded(client, loop):
    suggestion = suggest(loop)
    client.force_login(loop.admin)
    page = client.get(url("edit", suggestion.pk)).content.decode()
    assert "We now open Saturdays." in page  # shown, read-only
    response = client.post(url("edit", suggestion.pk), {"status": "applied", "text": "changed"})
    assert response.status_code == 302, response.content.decode()[:2000]
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.resolved_by) == ("applied", loop.admin)
    assert suggestion.resolved_at is not None
    assert suggestion.text == "We now open Saturdays."  # the agency's words are kept as sent
    client.post(url("edit", suggestion.pk), {"status": "open"})
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.resolved_by, suggestion.resolved_at) == (
        "open",
        None,
        None,
    )


def test_admins_neither_create_nor_delete_suggestions(client, loop):
    suggestion = suggest(loop)
    client.force_login(loop.admin)
    assert client.get(url("add")).status_code in {302, 403}
    assert client.post(url("delete", suggestion.pk)).status_code in {302, 403, 404}
    assert ListingSuggestion.objects.filter(pk=suggestion.pk).exists()


def test_agency_and_clinic_staff_have_no_admin_access(client, loop):
    suggestion = suggest(loop)
    for user in (loop.agency_staff, loop.clinic_staff, loop.tenant.users[Role.AGENCY_ADMIN]):
        client.force_login(user)
        for response in (client.get(url("list")), client.get(url("edit", suggestion.pk))):
            assert response.status_code in {302, 403, 404}
            assert "Saturdays" not in response.content.decode()


def test_the_services_refuse_the_wrong_people_and_bad_input(loop, other_loop):
    with pytest.raises(PermissionDenied):  # not their agency's page
        directory_services.listing_suggestion_create(
            page=loop.housing, organization=loop.food_agency, by=loop.agency_staff, text="x"
        )
    with pytest.raises(PermissionDenied):  # a clinic's staff
        directory_services.listing_suggestion_create(
            page=loop.food, organization=loop.food_agency, by=loop.clinic_staff, text="x"
        )
    with pytest.raises(ValidationError):
        directory_services.listing_suggestion_create(
            page=loop.food, organization=loop.food_agency, by=loop.agency_staff, text=" "
        )
    assert not ListingSuggestion.objects.exists()
    suggestion = suggest(loop)
    with pytest.raises(PermissionDenied):  # another network's admin
        directory_services.listing_suggestion_resolve(
            suggestion=suggestion, status="dismissed", by=other_loop.admin
        )
    with pytest.raises(ValidationError):
        directory_services.listing_suggestion_resolve(
            suggestion=suggestion, status="done-ish", by=loop.admin
        )
    suggestion.refresh_from_db()
    assert suggestion.status == "open"
