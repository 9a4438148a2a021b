"""Finding a client whose name was typed as it sounds: "hernandes" finds "Hernandez" in the
clients list, by a phonetic key stored on the client (the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from referrals.models import Client
from referrals.names import name_key, word_key
from referrals.selectors.clients import clients_find
from referrals.services.clients import client_create

LIST = reverse("referrals:client_list")


def _add(loop, first: str, last: str, n: int = 0) -> Client:  # type: ignore[no-untyped-def]
    return client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name=first,
        last_name=last,
        date_of_birth=date(1970, 1, 1) + timedelta(days=n),
        confirm_new=True,
    )


def test_the_key_ignores_case_accents_and_spelling_that_sounds_alike() -> None:
    assert name_key("José", "Hernández") == name_key("jose", "HERNANDES")
    assert word_key("Lopes") == word_key("López")
    assert name_key("", "") == ""
    assert word_key("123") == ""


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["hernandes", "Hernandez", "HERNANDES rosa", "ernandez"])
def test_a_misspelt_name_finds_the_client(staff, loop, typed):
    _add(loop, "Rosa", "Hernandez")
    _add(loop, "Rosa", "Harmon", 1)
    body = staff.post(LIST, {"q": typed}).content.decode()
    assert "Hernandez, Rosa" in body
    assert "Harmon" not in body


@pytest.mark.django_db
def test_the_key_is_kept_when_the_name_changes(loop):
    person = _add(loop, "Rosa", "Hernandez")
    person.last_name = "Gonzalez"
    person.save(update_fields=["last_name"])
    person.refresh_from_db()
    assert person.name_key == name_key("Rosa", "Gonzalez")
    found = clients_find(user=loop.clinic_staff, organization=loop.clinic, text="gonzales")
    assert list(found) == [person]


@pytest.mark.django_db
def test_another_clinics_client_is_never_found(loop, other_loop):
    _add(other_loop, "Rosa", "Hernandez")
    found = clients_find(user=loop.clinic_staff, organization=loop.clinic, text="hernandes")
    assert not found.exists()


@pytest.mark.django_db
def test_a_search_costs_the_same_queries_for_any_number_of_matches(staff, loop):
    _add(loop, "Rosa", "Hernandez")
    staff.post(LIST, {"q": "hernandes"})  # warm the session

    def cost() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = staff.post(LIST, {"q": "hernandes"})
        assert response.status_code == 200
        return len(captured.captured_queries)

    one = cost()
    for n in range(1, 12):
        _add(loop, f"Ana{'x' * n}", "Hernandes", n)
    many = cost()
    assert many == one
    assert staff.post(LIST, {"q": "hernandes"}).content.decode().count("Hernandes, Ana") == 11
