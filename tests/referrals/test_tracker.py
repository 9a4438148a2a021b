"""The clinic's tracker of the referrals it sent: filters, bad filters, pages, who sees it."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from network.models import Role
from referrals.models import Referral
from tests.referrals.factories import move

TRACKER = reverse("referrals:referral_tracker")


def _rows(response) -> list[int]:  # type: ignore[no-untyped-def]
    """The referral ids of the table's rows, in order."""
    assert response.status_code in {200, 400}
    rows = response.context["rows"]
    return [referral.pk for referral, _age in rows]


@pytest.fixture
def sent(loop):  # type: ignore[no-untyped-def]
    """Three referrals of the loop's client: food 20 days ago (overdue, never answered),
    housing 2 days ago (accepted, outcome not yet due), food today (requested, not yet due)."""
    now = timezone.now()
    old = loop.send(key="old", now=now - timedelta(days=20))
    housing = loop.send(key="housing", service=loop.housing, now=now - timedelta(days=2))
    Referral.objects.filter(pk=housing.pk).update(
        status="accepted", outcome_due_at=now + timedelta(days=20)
    )
    new = loop.send(key="new")
    return {"old": old.pk, "housing": housing.pk, "new": new.pk}


@pytest.mark.django_db
def test_lists_every_referral_the_clinic_sent_newest_first(client, loop, sent):
    client.force_login(loop.clinic_staff)
    response = client.get(TRACKER)
    assert response.status_code == 200
    assert _rows(response) == [sent["new"], sent["housing"], sent["old"]]
    page = response.content.decode().replace("\xa0", " ")  # timesince's non-breaking spaces
    assert 'class="badge status status-requested">Requested<' in page
    assert 'class="badge status status-accepted">Accepted<' in page
    assert "2 weeks ago" in page
    assert "2 days ago" in page
    assert "Lopez, Maria" in page
    assert "Harbor Food Bank" in page
    assert "Bay Housing" in page
    assert page.count('<tr class="overdue"') == 1
    assert "Overdue" in page
    assert reverse("referrals:referral_detail", args=[sent["old"]]) in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": ["accepted"]}, ["housing"]),
        ({"status": ["requested", "accepted"]}, ["new", "housing", "old"]),
        ({"status": ["completed"]}, []),
        ({"category": "housing-instability"}, ["housing"]),
        ({"category": "food-insecurity"}, ["new", "old"]),
        ({"overdue": "1"}, ["old"]),
        ({"status": ["requested"], "overdue": "1"}, ["old"]),
    ],
)
def test_filters(client, loop, sent, params, expected):
    client.force_login(loop.clinic_staff)
    response = client.get(TRACKER, params)
    assert response.status_code == 200
    assert _rows(response) == [sent[name] for name in expected]


@pytest.mark.django_db
def test_filter_by_agency(client, loop, sent):
    client.force_login(loop.clinic_staff)
    response = client.get(TRACKER, {"agency": loop.housing_agency.pk})
    assert _rows(response) == [sent["housing"]]
    response = client.get(TRACKER, {"agency": loop.food_agency.pk})
    assert _rows(response) == [sent["new"], sent["old"]]


@pytest.mark.django_db
def test_the_agency_filter_offers_the_agencies_the_clinic_referred_to(client, loop):
    """Not the network's whole directory (thousands of agencies): those referred to, and the
    one a link names if it is another of the network's."""
    loop.send(key="food")
    client.force_login(loop.clinic_staff)
    food = f'<option value="{loop.food_agency.pk}"'
    housing = f'<option value="{loop.housing_agency.pk}"'
    page = client.get(TRACKER).content.decode()
    assert food in page
    assert housing not in page
    response = client.get(TRACKER, {"agency": loop.housing_agency.pk})
    assert response.status_code == 200
    assert _rows(response) == []
    page = response.content.decode()
    assert f"{housing} selected>" in page
    assert food in page


@pytest.mark.django_db
def test_the_agencies_referred_to_are_kept_until_the_clinic_sends_again(client, loop):
    """Which agencies the clinic referred to is kept in the cache (its query reads the index of
    every referral sent) until a referral it sent changes; the agencies' names, and whether they
    are still active, are read on every page."""
    loop.send(key="food")
    client.force_login(loop.clinic_staff)
    food = f'<option value="{loop.food_agency.pk}"'
    housing = f'<option value="{loop.housing_agency.pk}"'

    def offered() -> tuple[str, list[str]]:
        with CaptureQueriesContext(connection) as captured:
            page = client.get(TRACKER).content.decode()
        return page, [q["sql"] for q in captured.captured_queries]

    page, first = offered()
    assert food in page
    assert housing not in page
    assert any("WITH RECURSIVE" in sql for sql in first)
    page, again = offered()
    assert not any("WITH RECURSIVE" in sql for sql in again)
    assert food in page
    # Sending to another agency is seen on the next page.
    loop.send(key="housing", service=loop.housing)
    page, _sql = offered()
    assert housing in page
    assert food in page
    # A name changed, or an agency made inactive, is seen at once though nothing was sent.
    _page, kept = offered()
    assert not any("WITH RECURSIVE" in sql for sql in kept)
    type(loop.food_agency).objects.filter(pk=loop.food_agency.pk).update(name="Renamed Pantry")
    assert f"{food}>Renamed Pantry</option>" in offered()[0]
    type(loop.food_agency).objects.filter(pk=loop.food_agency.pk).update(is_active=False)
    page, _sql = offered()
    assert food not in page
    assert housing in page


@pytest.mark.django_db
def test_filter_by_sent_dates_in_the_networks_time_zone(client, loop, sent):
    client.force_login(loop.clinic_staff)
    today = timezone.now().astimezone(ZoneInfo(loop.tenant.network.time_zone)).date()
    old_day = today - timedelta(days=20)
    response = client.get(TRACKER, {"sent_from": old_day, "sent_to": old_day})
    assert _rows(response) == [sent["old"]]
    response = client.get(TRACKER, {"sent_from": today - timedelta(days=3)})
    assert _rows(response) == [sent["new"], sent["housing"]]
    response = client.get(TRACKER, {"sent_to": today - timedelta(days=1)})
    assert _rows(response) == [sent["housing"], sent["old"]]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": ["requested", "lost-in-mail"]}, "“lost-in-mail” is not a referral status."),
        ({"sent_from": "2026-13-45"}, "Enter the date as YYYY-MM-DD."),
        ({"sent_to": "yesterday"}, "Enter the date as YYYY-MM-DD."),
        ({"sent_from": "2026-11-20", "sent_to": "2026-11-01"}, "must not be before the start"),
        ({"agency": "abc"}, "Choose an agency from the list."),
        ({"category": "moon-rock"}, "“moon-rock” is not a need."),
    ],
)
def test_bad_filters_are_named_not_a_server_error(client, loop, sent, params, message):
    client.force_login(loop.clinic_staff)
    response = client.get(TRACKER, params)
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.django_db
def test_an_agency_of_another_network_is_not_a_choice(client, loop, other_loop, sent):
    client.force_login(loop.clinic_staff)
    response = client.get(TRACKER, {"agency": other_loop.food_agency.pk})
    assert response.status_code == 400
    assert "Choose an agency from the list." in response.content.decode()


@pytest.mark.django_db
def test_bad_page_numbers_show_a_page(client, loop, sent):
    client.force_login(loop.clinic_staff)
    assert _rows(client.get(TRACKER, {"page": "abc"})) == [
        sent["new"],
        sent["housing"],
        sent["old"],
    ]
    assert client.get(TRACKER, {"page": "99"}).status_code == 200


@pytest.mark.django_db
def test_htmx_gets_the_table_only_with_its_errors(client, loop, sent):
    client.force_login(loop.clinic_staff)
    response = client.get(TRACKER, {"status": "accepted"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "<html" not in page
    assert "<table" in page
    bad = client.get(TRACKER, {"status": "bogus"}, headers={"HX-Request": "true"})
    assert bad.status_code == 200  # htmx swaps only successful answers
    assert "“bogus” is not a referral status." in bad.content.decode()


@pytest.mark.django_db
def test_pages_of_25_and_queries_that_do_not_grow(client, loop):
    client.force_login(loop.clinic_staff)

    def queries(params: dict[str, str]) -> int:
        cache.clear()  # the filter's count computed again: each count is the same work
        with CaptureQueriesContext(connection) as captured:
            response = client.get(TRACKER, params)
        assert response.status_code == 200
        return len(captured.captured_queries)

    for n in range(2):
        loop.send(key=f"first-{n}")
    client.get(TRACKER)  # warm the session
    few = queries({})
    few_filtered = queries({"status": "requested", "overdue": "", "agency": loop.food_agency.pk})
    for n in range(28):
        loop.send(key=f"more-{n}", service=loop.housing if n % 2 else loop.food)
    assert queries({}) == few
    filters = {"status": "requested", "overdue": "", "agency": loop.food_agency.pk}
    assert queries(filters) == few_filtered
    first = client.get(TRACKER)
    assert len(first.context["rows"]) == 25
    assert 'rel="next"' in first.content.decode()
    assert len(client.get(TRACKER, {"page": "2"}).context["rows"]) == 5


@pytest.mark.django_db
def test_a_filters_count_is_kept_until_a_referral_of_the_clinic_changes(client, loop):
    for n in range(3):
        loop.send(key=f"kept-{n}")
    client.force_login(loop.clinic_staff)
    client.get(TRACKER)  # the session
    cache.clear()
    filters = {"status": "requested", "category": "food-insecurity"}

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get(TRACKER, filters)
        return len(captured.captured_queries)

    def counted() -> int:
        return int(client.get(TRACKER, filters).context["page"].paginator.count)

    first = queries()
    # Neither the count, the agencies the clinic referred to nor the unread count is read again.
    assert queries() == first - 3
    assert counted() == 3
    # Another filter is another count (the key is the counting query).
    other = client.get(TRACKER, {**filters, "status": "accepted"})
    assert other.context["page"].paginator.count == 0
    assert client.get(TRACKER).context["page"].paginator.count == 3
    # Every page of the filter shares its count.
    with CaptureQueriesContext(connection) as captured:
        client.get(TRACKER, {**filters, "page": "2"})
    assert len(captured.captured_queries) == first - 3
    # A referral sent or answered changes the key at once: the count is never stale.
    loop.send(key="kept-3")
    assert counted() == 4
    referral = Referral.objects.filter(sender=loop.clinic).order_by("pk").first()
    move(referral, "accepted", loop.agency_staff, loop.food_agency)
    assert counted() == 3
    assert queries() == first - 3  # and kept again
    # A change written by a server whose clock is behind renews it too (the services' token).
    behind = Referral.objects.order_by("-updated_at").first().updated_at - timedelta(hours=1)
    second = Referral.objects.filter(sender=loop.clinic, status="requested").first()
    move(second, "accepted", loop.agency_staff, loop.food_agency, now=behind)
    assert counted() == 2
    # A client's name is never part of a cache key: a name search counts each time.
    name = {"client_q": loop.client.last_name}
    client.post(TRACKER + "?status=requested", name)
    with CaptureQueriesContext(connection) as captured:
        client.post(TRACKER + "?status=requested", name)
    assert any("COUNT(" in q["sql"] for q in captured.captured_queries)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL-only: index-only scans and their plans"
)
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"statuses": ["accepted", "completed"]}, 1),
        ({"category": "housing-instability"}, 1),
        ({"overdue": True}, 1),
        ({"statuses": ["requested"], "category": "food-insecurity", "overdue": True}, 1),
    ],
    ids=["statuses", "need", "overdue", "all"],
)
def test_a_filters_count_reads_the_count_index_alone(loop, sent, filters, expected):
    """A filter on a status, a need or the due dates is counted by an index-only scan of
    ``referral_sent_counts``, which holds every column a filter reads: PostgreSQL never reads
    the wide referral rows to count (over 100,000 referrals: 46 ms from the table, 11-16 ms from
    the index). No filter, or sent dates alone, are counted from the newest-first index (sender,
    sent_at, id) as well, which PostgreSQL may prefer: not asserted here."""
    from referrals.selectors.tracker import referrals_sent

    now = timezone.now()
    referrals = referrals_sent(
        user=loop.clinic_staff,
        organization=loop.clinic,
        now=now,
        **{
            name: now.date() - timedelta(days=value) if name.startswith("sent_") else value
            for name, value in filters.items()
        },
    )
    with CaptureQueriesContext(connection) as captured:
        counted = referrals.count()  # as the paginator and the kept count count
    assert counted == expected
    (count_sql,) = [query["sql"] for query in captured.captured_queries]
    with connection.cursor() as cursor:
        # A tiny table, where every plan costs about the same: the planner's pick among the
        # indexes that lead with the sender then turns on what autovacuum last recorded of the
        # table (CI once saw it take the sender's foreign-key index). So, in this test's
        # transaction (rolled back with it), leave PostgreSQL the table's primary key and the
        # count index alone (a unique constraint's index goes with its constraint), and forbid
        # the other ways to read it: the plan then says whether the count index holds every
        # column the count reads (an index-only scan) or not.
        table = Referral._meta.db_table
        cursor.execute(
            """
            SELECT index.relname, pg_constraint.conname FROM pg_index
            JOIN pg_class index ON index.oid = pg_index.indexrelid
            LEFT JOIN pg_constraint ON pg_constraint.conindid = pg_index.indexrelid
              AND pg_constraint.conrelid = pg_index.indrelid
            WHERE pg_index.indrelid = %s::regclass AND NOT pg_index.indisprimary
              AND index.relname <> 'referral_sent_counts'
            """,
            [table],
        )
        competing = cursor.fetchall()
        # Django's foreign keys are checked at commit: check them now, or PostgreSQL refuses
        # to alter a table with checks pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for index, constraint in competing:
            if constraint:
                cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{constraint}"')
            else:
                cursor.execute(f'DROP INDEX "{index}"')
        for setting in ("enable_seqscan", "enable_bitmapscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(f"EXPLAIN {count_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Only Scan using referral_sent_counts" in plan, plan


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENCY_STAFF, Role.AGENCY_ADMIN, Role.NETWORK_ADMIN])
def test_only_clinic_staff_see_the_tracker(client, loop, sent, role):
    client.force_login(loop.tenant.users[role])
    response = client.get(TRACKER)
    assert response.status_code == 403
    assert "Lopez" not in response.content.decode()


@pytest.mark.django_db
def test_another_clinic_sees_only_its_own_referrals(client, loop, other_loop, sent):
    mine = other_loop.send(key="theirs")
    client.force_login(other_loop.clinic_staff)
    response = client.get(TRACKER)
    assert _rows(response) == [mine.pk]
    # Our agencies are not even a filter choice there.
    assert client.get(TRACKER, {"agency": loop.food_agency.pk}).status_code == 400


@pytest.mark.django_db
def test_signed_out_people_are_sent_to_sign_in(client, loop):
    response = client.get(TRACKER)
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_rows_text_is_escaped(client, loop, sent):
    """The rows are written in Python (referrals.views.tracker.rows_html): what people typed
    (a service's name, a reason) is escaped there as a template would."""
    Referral.objects.filter(pk=sent["new"]).update(
        service_name="<b>Pantry</b>", status_reason="<script>x</script>"
    )
    client.force_login(loop.clinic_staff)
    body = client.get(TRACKER).content.decode()
    assert "&lt;b&gt;Pantry&lt;/b&gt;" in body
    assert "&lt;script&gt;x&lt;/script&gt;" in body
    assert "<b>Pantry</b>" not in body
    assert "<script>x</script>" not in body


@pytest.mark.django_db
def test_rows_read_no_client_detail_the_table_does_not_show(client, loop, sent):
    """The rows hold the client's name, not their contact details or date of birth: what the
    page does not show is not read (nor turned into Python for every row)."""
    client.force_login(loop.clinic_staff)
    rows = client.get(TRACKER).context["rows"]
    assert rows
    for referral, _age in rows:
        deferred = referral.client.get_deferred_fields()
        assert {"phone", "email", "date_of_birth", "address_1", "contact_notes"} <= deferred
        assert not {"first_name", "last_name"} & deferred
        assert "note" in referral.get_deferred_fields()


@pytest.mark.django_db
def test_nothing_is_kept_under_a_stamp_while_the_cache_cannot_be_reached(loop, monkeypatch):
    """Without the network's token (the cache unreachable) each stamp is its own: nothing a
    process keeps under one is read back under the next."""
    from referrals import changes

    loop.send(key="stamp")
    kept = changes.referrals_changed_stamp(loop.tenant.network.pk, sender=loop.clinic)
    assert kept == changes.referrals_changed_stamp(loop.tenant.network.pk, sender=loop.clinic)
    monkeypatch.setattr(changes, "referrals_changed_token", lambda network_id: "")
    first = changes.referrals_changed_stamp(loop.tenant.network.pk, sender=loop.clinic)
    second = changes.referrals_changed_stamp(loop.tenant.network.pk, sender=loop.clinic)
    assert first != second
    assert kept not in (first, second)
