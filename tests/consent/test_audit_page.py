"""The access log in the Wagtail admin: network admins see who saw which client's data, when,
from where, why and which fields; filter it, page it and download it as CSV. Their own
network only (another network's: 404; anyone else: 403); bad filters answer 400."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from consent.models import AccessLog, ClientField
from network.models import Role
from referrals.disclosure import disclosure_for
from referrals.models import Client
from referrals.services.clients import client_create
from tests.referrals.factories import Loop

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

URL = reverse("access_log")


def _client(loop: Loop, first: str, last: str) -> Client:
    return client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name=first,
        last_name=last,
        date_of_birth=date(1971, 3, 4),
        confirm_new=True,
    )


def _seen(loop: Loop, client: Client, *, days_ago: int = 0, purpose: str = "client", **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("user", loop.clinic_staff)
    kw.setdefault("organization", loop.clinic)
    kw.setdefault("ip_address", "198.51.100.20")
    written = consent_services.access_log_write(
        purpose=purpose,
        fields=[ClientField.NAME, ClientField.PHONE],
        seen=[(client.pk, None)],
        at=timezone.now() - timedelta(days=days_ago),
        **kw,
    )
    assert written == 1
    return AccessLog.objects.filter(client=client).latest("pk")


def _listed(response) -> list[int]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.content.decode()[:500]
    return [  # the page's own readers are logged too (see test_reading_the_log_is_logged)
        entry.pk
        for entry, _fields, _purpose in response.context["rows"]
        if entry.purpose != "audit"
    ]


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def logged(loop: Loop):  # type: ignore[no-untyped-def]
    """Three views: the clinic saw Ada Quill today and Bo Rask 10 days ago; the food agency saw
    the loop's client through a referral."""
    ada = _client(loop, "Ada", "Quill")
    bo = _client(loop, "Bo", "Rask")
    referral = loop.send()
    seen = {
        "ada": _seen(loop, ada, user_agent="Firefox/140"),
        "bo": _seen(loop, bo, days_ago=10, purpose="client_list"),
    }
    disclosure_for(referral, loop.food_agency, user=loop.agency_staff, ip_address="203.0.113.4")
    seen["agency"] = AccessLog.objects.get(organization=loop.food_agency)
    return seen


@pytest.mark.django_db
def test_one_write_logs_each_client_seen_with_every_column(loop: Loop):
    """The log's one INSERT (unnest on PostgreSQL, bulk_create elsewhere) stores what it is
    given: each pair a row, the fields sorted once, an IPv6 address, the browser cut to 300."""
    ada, bo = _client(loop, "Ada", "Quill"), _client(loop, "Bo", "Rask")
    referral = loop.send()
    at = timezone.now() - timedelta(hours=3)
    written = consent_services.access_log_write(
        user=loop.agency_staff,
        organization=loop.food_agency,
        purpose="inbox",
        fields=[ClientField.PHONE, ClientField.NAME, ClientField.PHONE],
        seen=[(ada.pk, None), (bo.pk, None), (referral.client_id, referral.pk)],
        ip_address="2001:db8::1",
        user_agent="x" * 400,
        at=at,
    )
    assert written == 3
    rows = list(AccessLog.objects.order_by("pk"))
    assert [(r.client_id, r.referral_id) for r in rows] == [
        (ada.pk, None),
        (bo.pk, None),
        (referral.client_id, referral.pk),
    ]
    for row in rows:
        assert row.at == at
        assert row.network_id == loop.tenant.network.pk
        assert row.user_id == loop.agency_staff.pk
        assert row.organization_id == loop.food_agency.pk
        assert row.fields == sorted([ClientField.NAME, ClientField.PHONE])
        assert row.purpose == "inbox"
        assert row.ip_address == "2001:db8::1"
        assert row.user_agent == "x" * 300
    nothing = consent_services.access_log_write(
        user=loop.agency_staff,
        organization=loop.food_agency,
        purpose="inbox",
        fields=[ClientField.NAME],
        seen=[],
        ip_address=None,
    )
    assert nothing == 0
    assert AccessLog.objects.count() == 3


@pytest.mark.django_db
def test_url_is_in_the_admin():
    assert URL == "/admin/access-log/"


@pytest.mark.django_db
def test_network_admin_sees_who_saw_what_when_from_where(client, loop: Loop, logged):
    client.force_login(loop.admin)
    response = client.get(URL)
    assert _listed(response) == [logged["agency"].pk, logged["ada"].pk, logged["bo"].pk]
    body = response.content.decode()
    for text in (
        "Ada Quill",
        "Bo Rask",
        loop.food_agency.name,
        str(loop.agency_staff),
        str(loop.clinic_staff),
        "203.0.113.4",
        "198.51.100.20",
        "Name, Phone",
        "Client page",  # the purpose, in words
        "Client list",
        f"referral #{logged['agency'].referral_id}",
    ):
        assert text in body, text


@pytest.mark.django_db
def test_filters(client, loop: Loop, logged):
    client.force_login(loop.admin)
    zone = ZoneInfo(loop.tenant.network.time_zone)
    today = timezone.localdate(timezone=zone)
    ada, bo, agency = logged["ada"].pk, logged["bo"].pk, logged["agency"].pk
    cases = [
        ({"person": loop.agency_staff.username}, [agency]),
        ({"person": loop.clinic_staff.username.upper()}, [ada, bo]),
        ({"organization": loop.clinic.pk}, [ada, bo]),
        ({"organization": loop.food_agency.pk}, [agency]),
        ({"client": "quill"}, [ada]),
        ({"client": "Ada Quill"}, [ada]),
        ({"client": f"#{logged['bo'].client_id}"}, [bo]),
        ({"client": str(logged["bo"].client_id)}, [bo]),
        ({"client": "Nobody"}, []),
        ({"purpose": "client_list"}, [bo]),
        ({"purpose": "view"}, [agency]),
        ({"start": (today - timedelta(days=1)).isoformat()}, [agency, ada]),
        ({"end": (today - timedelta(days=5)).isoformat()}, [bo]),
        (
            {
                "start": (today - timedelta(days=10)).isoformat(),
                "end": (today - timedelta(days=10)).isoformat(),
            },
            [bo],
        ),
        ({"organization": loop.clinic.pk, "start": today.isoformat()}, [ada]),
    ]
    for query, expected in cases:
        assert _listed(client.post(URL, query)) == expected, query


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "yesterday"}, "Enter a valid date."),
        ({"start": "2026-02-30"}, "Enter a valid date."),
        ({"start": "2026-03-02", "end": "2026-03-01"}, "is after the end date"),
        ({"end": "9999-12-31"}, "Choose a date between 1900-01-01 and 9998-12-31."),
        ({"start": "0001-01-01"}, "Choose a date between 1900-01-01 and 9998-12-31."),
        ({"organization": "abc"}, "Select a valid choice."),
        ({"organization": "99999999999999999999999"}, "Select a valid choice."),
        ({"purpose": "gossip"}, "Select a valid choice."),
        ({"person": "a\x00b"}, "cannot contain null characters."),
        ({"client": "x" * 201}, "at most 200 characters"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_filters_answer_400_with_what_is_wrong(client, loop: Loop, query, message):
    client.force_login(loop.admin)
    page = client.post(URL, query)
    assert page.status_code == 400
    assert message in page.content.decode()
    download = client.post(URL, {**query, "format": "csv"})
    assert download.status_code == 400
    assert message in download.content.decode()


@pytest.mark.django_db
def test_reading_the_log_is_logged(client, loop: Loop, logged):
    """The log shows clients' names: each read of it is a row for the network's
    administration (no organization), one per client shown, page and CSV alike; the clinic
    sees it in the client's accounting of disclosures."""
    client.force_login(loop.admin)
    before = set(AccessLog.objects.values_list("pk", flat=True))
    client.post(URL, {"client": "Quill"}, REMOTE_ADDR="192.0.2.7", HTTP_USER_AGENT="Audit/1")
    read = AccessLog.objects.exclude(pk__in=before)
    ada = Client.objects.get(first_name="Ada")
    assert [(row.client_id, row.referral_id) for row in read] == [(ada.pk, None)]
    row = read.get()
    assert row.user == loop.admin
    assert row.organization is None
    assert row.network == loop.tenant.network
    assert row.purpose == "audit"
    assert row.fields == [ClientField.NAME]
    assert (row.ip_address, row.user_agent) == ("192.0.2.7", "Audit/1")

    before = set(AccessLog.objects.values_list("pk", flat=True))
    download = client.get(URL, {"format": "csv"})
    b"".join(download.streaming_content)
    clients = {logged[k].client_id for k in ("ada", "bo", "agency")}
    read = AccessLog.objects.exclude(pk__in=before)
    assert sorted(row.client_id for row in read) == sorted(clients)
    assert {row.purpose for row in read} == {"audit"}
    assert "Network administration" in client.get(URL).content.decode()

    client.force_login(loop.clinic_staff)
    page = client.get(reverse("referrals:client_disclosures", args=[ada.pk]))
    assert page.status_code == 200
    assert "Network administration" in page.content.decode()


@pytest.mark.django_db
def test_an_organization_of_another_network_is_not_a_choice(client, loop: Loop, other_loop):
    client.force_login(loop.admin)
    response = client.post(URL, {"organization": other_loop.clinic.pk})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()


@pytest.mark.django_db
def test_csv_has_the_filtered_rows_and_no_formulas(client, loop: Loop, logged):
    ada = Client.objects.get(first_name="Ada")
    _seen(loop, ada, user_agent='=HYPERLINK("http://evil")')
    client.force_login(loop.admin)
    response = client.post(URL, {"client": "Ada", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = _csv(response)
    assert header[:4] == ["When", "Person", "User name", "Organization"]
    assert [row[5] for row in rows] == ["Ada Quill", "Ada Quill"]
    assert {row[3] for row in rows} == {loop.clinic.name}
    assert {row[2] for row in rows} == {loop.clinic_staff.username}
    assert {row[9] for row in rows} == {"198.51.100.20"}
    assert rows[1][10] == "Firefox/140"
    assert rows[0][10] == '\'=HYPERLINK("http://evil")'
    assert rows[0][7] == "Name; Phone"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.CLINIC_STAFF, Role.CLINIC_ADMIN, Role.AGENCY_STAFF, Role.AGENCY_ADMIN]
)
def test_other_roles_are_refused(client, loop: Loop, logged, role):
    client.force_login(loop.tenant.users[role])
    for query in ({}, {"format": "csv"}):
        for method in (client.get, client.post):
            response = method(URL, query)
            assert response.status_code in {302, 403}, (role, query)
            assert b"Quill" not in response.content
            assert b"203.0.113.4" not in response.content


@pytest.mark.django_db
def test_anonymous_is_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("wagtailadmin_login"))


@pytest.mark.django_db
def test_admin_of_another_network_sees_only_their_own(client, loop: Loop, logged, other_loop):
    theirs = _seen(other_loop, _client(other_loop, "Cy", "Theirs"))
    client.force_login(other_loop.admin)
    response = client.get(URL)
    assert _listed(response) == [theirs.pk]
    body = response.content.decode()
    assert "Cy Theirs" in body
    assert "Quill" not in body
    assert "Rask" not in body
    asked = {"network": loop.tenant.network.pk}
    assert client.get(URL, asked).status_code == 404
    assert client.post(URL, {**asked, "client": "Quill"}).status_code == 404
    download = client.get(URL, {**asked, "format": "csv"})
    assert download.status_code == 404
    assert b"Quill" not in download.content
    download = client.post(URL, {**asked, "client": "Quill", "format": "csv"})
    assert download.status_code == 404
    assert b"Quill" not in download.content


@pytest.mark.django_db
def test_superuser_chooses_among_all_networks(client, superuser, loop: Loop, logged, other_loop):
    _seen(other_loop, _client(other_loop, "Cy", "Theirs"))
    client.force_login(superuser)
    chosen = client.get(URL, {"network": other_loop.tenant.network.pk})
    assert "Cy Theirs" in chosen.content.decode()
    assert "Quill" not in chosen.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"client": "Quill"}, {"person": "x"}, {"start": "2026-01-01"}])
def test_filters_are_never_read_from_the_address(client, loop: Loop, logged, query):
    """A client's name in a URL ends up in logs, history and Referer headers: the filters are
    posted, and a filter in the address is refused with a message (not silently dropped)."""
    client.force_login(loop.admin)
    for extra in ({}, {"format": "csv"}):
        response = client.get(URL, {**query, **extra})
        assert response.status_code == 400
        assert "not in the address" in response.content.decode()
        assert b"203.0.113.4" not in response.content


@pytest.mark.django_db
def test_the_page_posts_its_filters_and_pages_and_downloads_by_post(client, loop: Loop, logged):
    client.force_login(loop.admin)
    ada = Client.objects.get(first_name="Ada")
    for _ in range(60):
        _seen(loop, ada)
    body = client.get(URL).content.decode()
    assert 'method="post" action="/admin/access-log/"' in body
    assert 'method="get"' not in body
    filtered = client.post(URL, {"client": "Quill", "purpose": "client", "page": "2"})
    assert len(filtered.context["rows"]) == 11  # 61 views of Ada: page 2 holds the last 11
    body = filtered.content.decode()
    assert '<input type="hidden" name="client" value="Quill">' in body
    assert 'name="page" value="1"' in body
    assert 'name="format" value="csv"' in body
    assert "?client=" not in body
    assert "client=Quill" not in body
    download = client.post(URL, {"client": "Quill", "purpose": "client", "format": "csv"})
    assert len(_csv(download)) == 1 + 61


@pytest.mark.django_db
def test_pages_of_50_and_queries_that_do_not_grow(client, loop: Loop):
    client.force_login(loop.admin)
    ada = _client(loop, "Ada", "Quill")
    _seen(loop, ada)

    def queries(query: dict[str, str], method: str = "get") -> int:
        with CaptureQueriesContext(connection) as captured:
            response = getattr(client, method)(URL, query)
            assert response.status_code == 200
            if response.streaming:  # the CSV's rows are read as it is sent
                b"".join(response.streaming_content)
        return len(captured.captured_queries)

    few = queries({}), queries({"format": "csv"}), queries({"client": "Quill"}, "post")
    other = _client(loop, "Bo", "Rask")
    for n in range(60):
        _seen(loop, other if n % 2 else ada, user=loop.agency_staff if n % 3 else loop.clinic_staff)
    assert (queries({}), queries({"format": "csv"}), queries({"client": "Quill"}, "post")) == few
    first = client.get(URL)
    assert len(first.context["rows"]) == 50
    total = AccessLog.objects.count()  # the 61 views, and the first page's read of them
    assert len(client.get(URL, {"page": 2}).context["rows"]) == total - 50
    total = AccessLog.objects.count()
    assert len(_csv(client.get(URL, {"format": "csv"}))) == 1 + total


@pytest.mark.django_db
def test_menu_item_for_network_admins_only(client, loop: Loop):
    client.force_login(loop.admin)
    assert URL in client.get(reverse("wagtailadmin_home")).content.decode()
    client.force_login(loop.tenant.users[Role.AGENCY_ADMIN])
    response = client.get(reverse("wagtailadmin_home"))
    assert URL not in response.content.decode()
