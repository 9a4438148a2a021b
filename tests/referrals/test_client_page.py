"""The client page: details, screenings, consents, referrals and the ways onward."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from referrals.services.clients import screening_record
from tests.conftest import cold_queries


def _page(loop) -> str:  # type: ignore[no-untyped-def]
    return reverse("referrals:client_detail", args=[loop.client.pk])


def _screen(loop, answers=None):  # type: ignore[no-untyped-def]
    return screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers=answers or {"88122-7": "LA28397-0", "93030-5": "LA33-6"},
    )


@pytest.mark.django_db
def test_client_page_shows_everything_about_the_client(staff, loop):
    older = _screen(loop, {"71802-3": "LA31993-1"})
    newer = _screen(loop)
    referral = loop.send()
    body = staff.get(_page(loop)).content.decode()
    assert "Maria Lopez" in body
    assert "707-555-0100" in body
    assert "May 17, 1980" in body
    # Screenings, newest first, with positive domains, needs and a search link for this client.
    newer_link = reverse("referrals:screening_detail", args=[loop.client.pk, newer.pk])
    older_link = reverse("referrals:screening_detail", args=[loop.client.pk, older.pk])
    assert body.index(newer_link) < body.index(older_link)
    assert "Food, Transportation" in body
    assert "Food Insecurity" not in body  # needs by their plain names (“Food”)
    search = reverse("referrals:search")
    assert (
        f"{search}?category=food-insecurity&amp;category=transportation-insecurity"
        f"&amp;language=es&amp;client={loop.client.pk}"
    ) in body
    # The consent, active, with its revoke form.
    assert "Active" in body
    assert reverse("referrals:consent_revoke", args=[loop.client.pk, loop.consent.pk]) in body
    assert reverse("referrals:consent_new", args=[loop.client.pk]) in body
    # The referral with its agency and status, and the other pages.
    assert reverse("referrals:referral_detail", args=[referral.pk]) in body
    assert "Harbor Food Bank" in body
    assert "Requested" in body
    assert reverse("referrals:client_disclosures", args=[loop.client.pk]) in body
    assert reverse("referrals:screening_new", args=[loop.client.pk]) in body


@pytest.mark.django_db
def test_search_and_refer_carries_the_client_and_the_latest_needs(staff, loop):
    body = staff.get(_page(loop)).content.decode()
    assert f'href="{reverse("referrals:search")}?language=es&amp;client={loop.client.pk}"' in body
    _screen(loop)
    body = staff.get(_page(loop)).content.decode()
    assert (
        f'href="{reverse("referrals:search")}?category=food-insecurity'
        f'&amp;category=transportation-insecurity&amp;language=es&amp;client={loop.client.pk}"'
    ) in body


@pytest.mark.django_db
def test_consent_states_active_expired_revoked(staff, loop):
    now = timezone.now()
    expired = consent_services.consent_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["utility-insecurity"],
        method="electronic",
        signature="Maria Lopez",
        whole_network=True,
        granted_at=now - timedelta(days=400),
        expires_at=now - timedelta(days=35),
    )
    revoked = consent_services.consent_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["homelessness"],
        method="electronic",
        signature="Maria Lopez",
        recipients=[loop.housing_agency],
    )
    consent_services.consent_revoke(consent=revoked, by=loop.clinic_staff, reason="Moved away")
    body = staff.get(_page(loop)).content.decode()
    assert "Expired" in body
    assert "Revoked" in body
    assert "Moved away" in body
    assert "Bay Housing" in body  # the named recipient
    # Only the consent still in force can be revoked.
    assert reverse("referrals:consent_revoke", args=[loop.client.pk, loop.consent.pk]) in body
    for done in (expired, revoked):
        assert reverse("referrals:consent_revoke", args=[loop.client.pk, done.pk]) not in body


@pytest.mark.django_db
def test_client_page_queries_do_not_grow_with_its_rows(staff, loop):
    def add_rows(n: int, tag: str) -> None:
        for i in range(n):
            _screen(loop)
            loop.send(key=f"{tag}-{i}")
            consent_services.consent_record(
                client=loop.client,
                by=loop.clinic_staff,
                organization=loop.clinic,
                categories=["food-insecurity"],
                method="electronic",
                signature="Maria Lopez",
                recipients=[loop.food_agency, loop.housing_agency],
            )

    add_rows(2, "few")
    with cold_queries() as few:
        assert staff.get(_page(loop)).status_code == 200
    add_rows(18, "many")
    with cold_queries() as many:
        body = staff.get(_page(loop)).content.decode()
    assert body.count('id="consent-') == 21
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_disclosures_page_prints(staff, loop):
    body = staff.get(reverse("referrals:client_disclosures", args=[loop.client.pk])).content
    # The button's script is a static file (the Content-Security-Policy refuses inline handlers).
    assert b"data-print" in body
    assert b"js/print.js" in body
    assert "window.print()" in Path(settings.BASE_DIR, "cms/static/js/print.js").read_text()
    css = Path(settings.BASE_DIR, "cms/static/css/handoff.css").read_text()
    assert "@media print" in css
    assert ".no-print" in css


@pytest.mark.django_db
def test_wrong_roles_get_no_client_page(intruder, loop):
    _screen(loop)
    response = intruder.get(_page(loop))
    assert response.status_code in (403, 404)
    assert "707-555-0100" not in response.content.decode()


@pytest.mark.django_db
def test_a_client_that_does_not_exist_is_not_found(staff, loop):
    assert (
        staff.get(reverse("referrals:client_detail", args=[loop.client.pk + 999])).status_code
        == 404
    )
