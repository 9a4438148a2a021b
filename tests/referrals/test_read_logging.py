"""The clinic's own reads of client data are logged: the client list (one row per client shown),
the client page, screening and consent pages, the tracker (one row per referral shown), the
accounting of disclosures and the referral page; with the address the trusted proxy saw. They
are not disclosures: the client's accounting of disclosures still lists only other
organizations."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse

from consent.models import AccessLog, ClientField
from referrals.disclosure import disclosure_for
from referrals.services.clients import client_create, screening_record
from tests.conftest import cold_queries

F = ClientField
CLIENT_PAGE_FIELDS = sorted(
    [
        *(F.NAME, F.DATE_OF_BIRTH, F.PHONE, F.EMAIL, F.ADDRESS),
        *(F.PREFERRED_LANGUAGE, F.CONTACT_PREFERENCES, F.SCREENING),
    ]
)


def _rows(**filters: object) -> list[tuple[object, ...]]:
    return list(
        AccessLog.objects.filter(**filters)
        .order_by("pk")
        .values_list("user__username", "organization_id", "client_id", "referral_id", "purpose")
    )


def _add_clients(loop, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    return [
        client_create(
            organization=loop.clinic,
            by=loop.clinic_staff,
            first_name=f"Listed{n:02d}",
            last_name="Zed",
            date_of_birth=date(1980, 1, 1) + timedelta(days=n * 400),
            confirm_new=True,
        ).pk
        for n in range(count)
    ]


def _screened(loop):  # type: ignore[no-untyped-def]
    return screening_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        answers={"88122-7": "LA28397-0"},
    )


@pytest.mark.django_db
def test_client_list_logs_one_row_per_client_shown(staff, loop):
    ids = _add_clients(loop, 3)
    response = staff.get(reverse("referrals:client_list"), REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200
    rows = AccessLog.objects.filter(purpose="client_list")
    assert sorted(rows.values_list("client_id", flat=True)) == sorted([loop.client.pk, *ids])
    for row in rows:
        assert row.user == loop.clinic_staff
        assert row.organization == loop.clinic
        assert row.network_id == loop.tenant.network.pk
        assert row.fields == sorted([F.NAME, F.DATE_OF_BIRTH])
        assert row.ip_address == "198.51.100.7"
        assert row.referral_id is None


@pytest.mark.django_db
def test_a_search_logs_only_the_clients_it_found(staff, loop):
    _add_clients(loop, 3)
    staff.post(reverse("referrals:client_list"), {"q": loop.client.last_name})
    assert _rows(purpose="client_list") == [
        (loop.clinic_staff.username, loop.clinic.pk, loop.client.pk, None, "client_list")
    ]


@pytest.mark.django_db
def test_the_list_writes_one_query_of_rows_whatever_their_number(staff, loop):
    url = reverse("referrals:client_list")
    with cold_queries() as few:
        staff.get(url)
    _add_clients(loop, 24)
    with cold_queries() as many:
        staff.get(url)
    inserts = [q for q in many.captured_queries if "INSERT" in q["sql"] and "accesslog" in q["sql"]]
    assert len(inserts) == 1
    assert len(many.captured_queries) == len(few.captured_queries)
    assert AccessLog.objects.filter(purpose="client_list").count() == 1 + 25


@pytest.mark.django_db
def test_client_page_screening_and_consent_pages_are_logged(staff, loop):
    client = loop.client
    screening = _screened(loop)
    pages = [
        (reverse("referrals:client_detail", args=[client.pk]), "client", CLIENT_PAGE_FIELDS),
        (reverse("referrals:screening_new", args=[client.pk]), "screening", [F.NAME]),
        (
            reverse("referrals:screening_detail", args=[client.pk, screening.pk]),
            "screening",
            sorted([F.NAME, F.SCREENING]),
        ),
        (reverse("referrals:consent_new", args=[client.pk]), "consent", [F.NAME]),
        (reverse("referrals:client_disclosures", args=[client.pk]), "disclosures", [F.NAME]),
    ]
    for url, purpose, fields in pages:
        before = AccessLog.objects.count()
        assert staff.get(url, HTTP_USER_AGENT="Firefox/140").status_code == 200, url
        row = AccessLog.objects.latest("pk")
        assert AccessLog.objects.count() == before + 1, url
        assert (row.client_id, row.purpose, row.fields) == (client.pk, purpose, fields), url
        assert (row.user, row.organization, row.user_agent) == (
            loop.clinic_staff,
            loop.clinic,
            "Firefox/140",
        )


@pytest.mark.django_db
def test_tracker_logs_one_row_per_referral_shown(staff, loop):
    first = loop.send(key="one")
    second = loop.send(key="two", service=loop.housing)
    assert staff.get(reverse("referrals:referral_tracker")).status_code == 200
    assert sorted(_rows(purpose="tracker")) == sorted(
        (loop.clinic_staff.username, loop.clinic.pk, loop.client.pk, referral.pk, "tracker")
        for referral in (first, second)
    )
    fields = AccessLog.objects.filter(purpose="tracker").values_list("fields", flat=True)
    assert list(fields) == [[F.NAME], [F.NAME]]


@pytest.mark.django_db
def test_the_sending_clinic_reading_its_referral_is_logged(staff, loop):
    referral = loop.send()
    assert staff.get(reverse("referrals:referral_detail", args=[referral.pk])).status_code == 200
    api = staff.get(reverse("referrals:api:referral", args=[referral.pk]))
    assert api.status_code == 200
    assert _rows(referral=referral) == [
        (loop.clinic_staff.username, loop.clinic.pk, loop.client.pk, referral.pk, "view"),
        (loop.clinic_staff.username, loop.clinic.pk, loop.client.pk, referral.pk, "api"),
    ]


@pytest.mark.django_db
def test_the_accounting_of_disclosures_lists_other_organizations_only(staff, loop):
    referral = loop.send()
    staff.get(reverse("referrals:client_detail", args=[loop.client.pk]))
    disclosure_for(referral, loop.food_agency, user=loop.agency_staff)
    response = staff.get(reverse("referrals:client_disclosures", args=[loop.client.pk]))
    rows = response.context["rows"]
    assert [entry.organization for entry, _fields in rows] == [loop.food_agency]


@pytest.mark.django_db
def test_wrong_roles_log_nothing_and_see_nothing(intruder, loop):
    loop.send()
    screening = _screened(loop)
    urls = [
        reverse("referrals:client_detail", args=[loop.client.pk]),
        reverse("referrals:screening_new", args=[loop.client.pk]),
        reverse("referrals:screening_detail", args=[loop.client.pk, screening.pk]),
        reverse("referrals:consent_new", args=[loop.client.pk]),
        reverse("referrals:client_disclosures", args=[loop.client.pk]),
    ]
    for url in urls:
        assert intruder.get(url).status_code in (403, 404), url
    page = reverse("referrals:client_detail", args=[loop.client.pk])
    for url in (reverse("referrals:client_list"), reverse("referrals:referral_tracker")):
        response = intruder.get(url)
        assert response.status_code in (200, 403), url  # 200: another clinic's own list
        assert page not in response.content.decode()
    assert not AccessLog.objects.filter(client=loop.client).exists()


@pytest.mark.django_db
@override_settings(HANDOFF_TRUSTED_PROXIES=["10.0.0.0/8"])
def test_the_logged_address_is_the_one_the_trusted_proxy_saw(staff, loop):
    url = reverse("referrals:client_detail", args=[loop.client.pk])
    staff.get(url, REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.9")
    # Sent straight to the application server: a header anyone can write proves nothing.
    staff.get(url, REMOTE_ADDR="192.0.2.66", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert list(
        AccessLog.objects.filter(purpose="client")
        .order_by("pk")
        .values_list("ip_address", flat=True)
    ) == ["203.0.113.9", "192.0.2.66"]
