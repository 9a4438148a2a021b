"""The clients list (find) and adding a client."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from network.models import Membership
from referrals.models import Client
from referrals.services.clients import client_create, screening_record
from tests.conftest import act_as, cold_queries

LIST = reverse("referrals:client_list")
NEW = reverse("referrals:client_new")


def _add_clients(loop, count: int, prefix: str = "Person") -> None:  # type: ignore[no-untyped-def]
    for n in range(count):
        client_create(
            organization=loop.clinic,
            by=loop.clinic_staff,
            first_name=f"{prefix}{n:02d}",
            last_name="Zed",
            date_of_birth=date(1990, 1, 1) + timedelta(days=n * 400),
            external_id=f"{prefix}-{n}",
            confirm_new=True,
        )


def _new_client_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": "Ana",
        "last_name": "Reyes",
        "date_of_birth": "1975-03-02",
        "external_id": "MRN-77",
        "phone": "707-555-0111",
        "email": "",
        "contact_preference": "phone",
        "preferred_language": "es",
    }
    data.update(overrides)
    return data


# --- list and find ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_the_clinics_clients_with_links(staff, loop):
    response = staff.get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Lopez, Maria" in body
    assert reverse("referrals:client_detail", args=[loop.client.pk]) in body
    assert 'for="client-q"' in body  # the search box has a label


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["lop", "MARIA lopez", "1980-05-17", "5/17/1980", "mrn-1"])
def test_find_by_name_birth_date_or_record_number(staff, loop, text):
    Client.objects.filter(pk=loop.client.pk).update(external_id="MRN-1")
    _add_clients(loop, 3)
    body = staff.post(LIST, {"q": text}).content.decode()
    assert "Lopez, Maria" in body
    assert "Person00" not in body
    # The answer says it is one (the live region reads it out); the whole list only counts.
    assert "1 client found" in body
    assert "4 clients</p>" in staff.get(LIST).content.decode()


@pytest.mark.django_db
def test_find_without_a_match_says_so(staff, loop):
    body = staff.post(LIST, {"q": "Nobody 2/30/1990"}).content.decode()
    assert "No client matches" in body
    assert "Lopez" not in body


@pytest.mark.django_db
def test_list_is_paginated_25_a_page_keeping_the_search(staff, loop):
    _add_clients(loop, 30)
    first = staff.post(LIST, {"q": "zed"}).content.decode()
    assert first.count("Zed, Person") == 25
    assert "Page 1 of 2" in first
    # The next page posts the search again: the typed text never goes into a link.
    assert '<input type="hidden" name="q" value="zed">' in first
    assert 'name="page" value="2"' in first
    assert "q=zed" not in first
    second = staff.post(LIST, {"q": "zed", "page": 2}).content.decode()
    assert second.count("Zed, Person") == 5
    assert "Person29" in second
    # The whole list pages with plain links.
    whole = staff.get(LIST).content.decode()
    assert "?page=2" in whole


@pytest.mark.django_db
def test_what_is_typed_never_goes_in_an_address(staff, loop):
    body = staff.get(LIST).content.decode()
    assert 'method="post"' in body
    assert "hx-push-url" not in body
    # A name in the query string (an old bookmark) is not searched for: the whole list shows.
    _add_clients(loop, 3)
    listed = staff.get(LIST, {"q": "Lopez"}).content.decode()
    assert "Zed, Person" in listed


@pytest.mark.django_db
def test_htmx_request_gets_only_the_results(staff, loop):
    response = staff.post(LIST, {"q": "maria"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Lopez, Maria" in body
    assert "<html" not in body


@pytest.mark.django_db
def test_list_queries_do_not_grow_with_clients(staff, loop):
    _add_clients(loop, 1, prefix="Few")
    with cold_queries() as few:
        assert staff.get(LIST).status_code == 200
    _add_clients(loop, 19, prefix="Many")
    with cold_queries() as many:
        body = staff.get(LIST).content.decode()
    assert body.count("Zed, ") == 20
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_list_shows_open_referrals_and_last_screening(staff, loop):
    loop.send(key="one")
    screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers={"88122-7": "LA28397-0"},
    )
    body = staff.get(LIST).content.decode()
    # The screening's day in the network's zone, in the one date format.
    zone = ZoneInfo(loop.clinic.network.time_zone)
    assert date_format(timezone.localtime(timezone.now(), zone).date(), "DATE_FORMAT") in body
    assert "<td>1</td>" in body


# --- add a client ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_add_a_client(staff, loop):
    response = staff.post(NEW, _new_client_form())
    client = Client.objects.get(last_name="Reyes")
    assert response.status_code == 302
    assert response["Location"] == reverse("referrals:client_detail", args=[client.pk])
    assert (client.organization, client.created_by, client.external_id, client.phone) == (
        loop.clinic,
        loop.clinic_staff,
        "MRN-77",
        "707-555-0111",
    )


@pytest.mark.django_db
def test_the_form_labels_every_field(staff, loop):
    body = staff.get(NEW).content.decode()
    for name in ("first_name", "last_name", "date_of_birth", "external_id", "phone", "email"):
        assert f'for="id_{name}"' in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"last_name": ""}, "This field is required."),
        ({"date_of_birth": "not a date"}, "Enter a valid date."),
        (
            {"date_of_birth": (timezone.localdate() + timedelta(days=2)).isoformat()},
            "The date of birth is in the future.",
        ),
        ({"email": "nope"}, "Enter a valid email address."),
        ({"contact_preference": "pigeon"}, "Select a valid choice."),
    ],
)
def test_bad_input_is_refused_and_nothing_written(staff, loop, overrides, error):
    response = staff.post(NEW, _new_client_form(**overrides))
    assert response.status_code == 400
    body = response.content.decode()
    assert error in body
    assert "nothing was saved" in body
    assert not Client.objects.filter(last_name="Reyes").exists()


@pytest.mark.django_db
def test_a_record_number_already_used_is_refused(staff, loop):
    Client.objects.filter(pk=loop.client.pk).update(external_id="MRN-77")
    response = staff.post(NEW, _new_client_form())
    assert response.status_code == 400
    assert "has this medical record number" in response.content.decode()
    assert not Client.objects.filter(last_name="Reyes").exists()


@pytest.mark.django_db
def test_possible_duplicate_shows_the_matches_then_confirm_adds(staff, loop):
    form = _new_client_form(first_name="María", last_name="López", date_of_birth="1980-05-17")
    response = staff.post(NEW, form)
    assert response.status_code == 409
    body = response.content.decode()
    assert "This may be a client you already have" in body
    assert reverse("referrals:client_detail", args=[loop.client.pk]) in body
    assert 'name="confirm_new"' in body
    assert Client.objects.count() == 1
    confirmed = staff.post(NEW, {**form, "confirm_new": "on"})
    assert confirmed.status_code == 302
    assert Client.objects.count() == 2


# --- who may not -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_roles_see_no_clients_and_add_none(intruder, loop):
    # The other network has a Maria Lopez of its own: look for this one's page instead.
    page = reverse("referrals:client_detail", args=[loop.client.pk])
    listed = intruder.get(LIST)
    if listed.status_code == 200:  # clinic staff elsewhere: their own clients only
        assert page not in listed.content.decode()
    else:
        assert listed.status_code == 403
    assert page not in intruder.post(LIST, {"q": "Lopez"}).content.decode()
    response = intruder.post(NEW, _new_client_form())
    if response.status_code == 302:  # another clinic adds to its own clinic, not this one
        assert not Client.objects.filter(organization=loop.clinic, last_name="Reyes").exists()
    else:
        assert response.status_code == 403


@pytest.mark.django_db
def test_duplicate_check_never_reveals_another_clinics_client(client, loop, second_clinic_staff):
    clinic = Membership.objects.get(user=second_clinic_staff).organization
    act_as(client, second_clinic_staff, clinic)
    response = client.post(
        NEW, _new_client_form(first_name="Maria", last_name="Lopez", date_of_birth="1980-05-17")
    )
    assert response.status_code == 302  # no warning: the other clinic's Maria is not visible
    assert Client.objects.filter(organization=clinic, last_name="Lopez").exists()


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client, loop):
    response = client.get(LIST)
    assert response.status_code == 302
    assert "login" in response["Location"]
