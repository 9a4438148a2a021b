"""The agency inbox: tabs and their counts, sorting, paging, the client's language when
disclosed, the same queries for any number of referrals, and nobody else's referrals."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from consent.models import AccessLog, ClientField
from network.models import Role
from referrals.models import Referral
from referrals.selectors.inbox import INBOX_TABS, referral_inbox_counts
from tests.conftest import act_as, queries
from tests.referrals.factories import Loop, move
from tests.referrals.inbox_pages import INBOX, listed, tab_count

pytestmark = pytest.mark.django_db


def overdue(referral: Referral, field: str = "response_due_at") -> None:
    Referral.objects.filter(pk=referral.pk).update(**{field: timezone.now() - timedelta(hours=3)})


def one_of_each(loop: Loop) -> dict[str, Referral]:
    """Referrals to the food agency in every state the tabs sort, and one to another agency."""
    staff, agency = loop.agency_staff, loop.food_agency
    made = {
        name: loop.send(key=name)
        for name in (
            "new",
            "new_late",
            "accepted_late",
            "in_progress",
            "on_hold",
            "completed",
            "rejected",
        )
    }
    overdue(made["new_late"])
    move(made["accepted_late"], "accepted", staff, agency)
    overdue(made["accepted_late"], "outcome_due_at")
    move(made["in_progress"], "accepted", staff, agency)
    move(made["in_progress"], "in-progress", staff, agency)
    move(made["on_hold"], "accepted", staff, agency)
    move(made["on_hold"], "on-hold", staff, agency, reason="Waiting for proof of address")
    move(made["completed"], "accepted", staff, agency)
    move(made["completed"], "completed", staff, agency, outcome="service-provided")
    move(made["rejected"], "rejected", staff, agency, reason="Outside our area")
    made["elsewhere"] = loop.send(service=loop.housing, key="elsewhere")
    return made


def test_tabs_hold_the_right_referrals_with_counts_from_one_query(client, loop):
    made = one_of_each(loop)
    act_as(client, loop.agency_staff, loop.food_agency)
    expected = {
        "new": {made["new"].pk, made["new_late"].pk},
        "overdue": {made["new_late"].pk, made["accepted_late"].pk},
        "in_progress": {made["accepted_late"].pk, made["in_progress"].pk},
        "waiting": {made["on_hold"].pk},
        "closed": {made["completed"].pk, made["rejected"].pk},
        "all": {r.pk for name, r in made.items() if name != "elsewhere"},
    }
    for tab, pks in expected.items():
        response = client.get(INBOX, {"tab": tab})
        assert response.status_code == 200
        assert set(listed(response)) == pks, tab
        for other, other_pks in expected.items():
            assert tab_count(response, other) == len(other_pks)
    # Closed referrals are on the closed and all tabs only; another agency's on none.
    with CaptureQueriesContext(connection) as captured:
        counts = referral_inbox_counts(
            user=loop.agency_staff, organization=loop.food_agency, now=timezone.now()
        )
    assert counts == {tab: len(pks) for tab, pks in expected.items()}
    on_referrals = [q for q in captured.captured_queries if "referrals_referral" in q["sql"]]
    assert len(on_referrals) == 1
    assert "COUNT" in on_referrals[0]["sql"].upper()


def test_default_tab_is_new_and_an_unknown_tab_falls_back_to_it(client, loop):
    first = loop.send(key="a")
    act_as(client, loop.agency_staff, loop.food_agency)
    for params in ({}, {"tab": "nonsense"}):
        response = client.get(INBOX, params)
        assert response.status_code == 200
        assert listed(response) == [first.pk]
        assert 'aria-current="page" data-testid="tab-new"' in response.content.decode()


def test_overdue_rows_are_highlighted_and_sorting_by_due_date_toggles(client, loop):
    soon, later, late = (loop.send(key=k) for k in ("soon", "later", "late"))
    now = timezone.now()
    Referral.objects.filter(pk=soon.pk).update(response_due_at=now + timedelta(hours=2))
    Referral.objects.filter(pk=later.pk).update(response_due_at=now + timedelta(days=2))
    Referral.objects.filter(pk=late.pk).update(response_due_at=now - timedelta(hours=1))
    act_as(client, loop.agency_staff, loop.food_agency)
    ascending = client.get(INBOX, {"tab": "new"})
    assert listed(ascending) == [late.pk, soon.pk, later.pk]
    body = ascending.content.decode()
    assert body.count('data-testid="overdue"') == 1
    assert body.count('class="is-overdue"') == 1
    assert 'href="?tab=new&amp;sort=-due"' in body  # the toggle offers the other order
    descending = client.get(INBOX, {"tab": "new", "sort": "-due"})
    assert listed(descending) == [later.pk, soon.pk, late.pk]
    assert 'href="?tab=new&amp;sort=due"' in descending.content.decode()


def test_rows_show_what_a_row_needs(client, loop):
    referral = loop.send(key="a", urgency="urgent")
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(INBOX).content.decode()
    assert (
        f'href="{reverse("referrals:referral_detail", args=[referral.pk])}">#{referral.pk}' in body
    )
    for shown in ("Harbor Food Pantry", loop.clinic.name, "Urgent", "Requested", " ago"):
        assert shown in body
    assert 'data-testid="language">Spanish — Español</td>' in body


def test_the_clients_language_shows_only_while_disclosed_and_is_logged(client, loop):
    referral = loop.send(key="a")
    act_as(client, loop.agency_staff, loop.food_agency)
    client.get(INBOX)
    log = AccessLog.objects.get(referral=referral)
    assert (log.purpose, log.fields, log.user) == (
        "inbox",
        [ClientField.PREFERRED_LANGUAGE],
        loop.agency_staff,
    )
    # A new agreement without the field: the language is no longer shown (nor logged).
    fields = [f for f in loop.agreements["food"].fields if f != ClientField.PREFERRED_LANGUAGE]
    narrower = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=fields, effective_from=date(2026, 1, 1)
    )
    consent_services.agreement_activate(agreement=narrower, by=loop.admin)
    body = client.get(INBOX).content.decode()
    assert 'data-testid="language">—</td>' in body
    assert "Español" not in body
    assert AccessLog.objects.filter(referral=referral).count() == 1


def test_a_revoked_consent_hides_the_language(client, loop):
    loop.send(key="a")
    consent_services.consent_revoke(
        consent=loop.consent, by=loop.clinic_staff, reason="The client asked us to stop."
    )
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(INBOX).content.decode()
    assert 'data-testid="language">—</td>' in body
    assert "Español" not in body
    assert not AccessLog.objects.exists()


def test_inbox_pages_by_25(client, loop):
    made = [loop.send(key=f"r{n}") for n in range(27)]
    act_as(client, loop.agency_staff, loop.food_agency)
    first = client.get(INBOX)
    assert len(listed(first)) == 25
    assert "Page 1 of 2" in first.content.decode()
    second = client.get(INBOX, {"page": 2})
    assert len(listed(second)) == 2
    assert set(listed(first)) | set(listed(second)) == {r.pk for r in made}
    assert len(listed(client.get(INBOX, {"page": "999"}))) == 2  # past the end: the last page


def test_the_inbox_costs_the_same_queries_for_2_or_30_referrals(client, loop):
    def cold(url: str) -> int:
        cache.clear()  # the tabs' counts computed again: each count is the same work
        return queries(client, url)

    for n in range(2):
        loop.send(key=f"few-{n}")
    act_as(client, loop.agency_staff, loop.food_agency)
    few = cold(INBOX)
    for n in range(28):
        loop.send(key=f"many-{n}")
    assert cold(INBOX) == few
    # Every tab, each page.
    assert cold(INBOX + "?page=2") == few


def test_the_tabs_counts_are_kept_until_a_referral_of_the_agency_changes(client, loop):
    for n in range(3):
        loop.send(key=f"kept-{n}")
    act_as(client, loop.agency_staff, loop.food_agency)
    cache.clear()
    first = queries(client, INBOX)
    again = client.get(INBOX)
    assert tab_count(again, "new") == 3
    # Neither the counts' aggregate nor the header's unread count is read again.
    assert queries(client, INBOX) == first - 2
    # A referral sent to the agency changes the key at once: the counts are never stale.
    loop.send(key="kept-3")
    assert tab_count(client.get(INBOX), "new") == 4
    referral = Referral.objects.filter(agency=loop.food_agency).order_by("pk").first()
    move(referral, "accepted", loop.agency_staff, loop.food_agency)
    page = client.get(INBOX)
    assert (tab_count(page, "new"), tab_count(page, "in_progress")) == (3, 1)
    assert queries(client, INBOX) == first - 2  # and kept again
    # A change written by a server whose clock is behind (its updated_at earlier than the
    # latest) renews the counts too: every change through the services bumps the token.
    behind = Referral.objects.order_by("-updated_at").first().updated_at - timedelta(hours=1)
    second = Referral.objects.filter(agency=loop.food_agency, status="requested").first()
    move(second, "accepted", loop.agency_staff, loop.food_agency, now=behind)
    page = client.get(INBOX)
    assert (tab_count(page, "new"), tab_count(page, "in_progress")) == (2, 2)


def test_htmx_gets_only_the_list(client, loop):
    loop.send(key="a")
    act_as(client, loop.agency_staff, loop.food_agency)
    response = client.get(INBOX, {"tab": "new"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert 'data-testid="tab-new"' in body
    assert 'data-testid="inbox-row"' in body
    full = client.get(INBOX).content.decode()
    assert "<html" in full
    assert "htmx" in full


# --- who may see it ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, loop):
    response = client.get(INBOX)
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.parametrize("who", ["clinic staff", "network admin"])
def test_people_who_receive_no_referrals_are_refused(client, loop, who):
    loop.send(key="a")
    if who == "clinic staff":
        act_as(client, loop.clinic_staff, loop.clinic)
    else:
        act_as(client, loop.admin)
    response = client.get(INBOX)
    assert response.status_code == 403
    assert "Harbor Food Pantry" not in response.content.decode()


def test_people_without_any_membership_are_refused(client, loop, outsider):
    loop.send(key="a")
    client.force_login(outsider)
    assert client.get(INBOX).status_code == 403


def test_another_agencys_staff_see_only_their_own(client, loop):
    ours = loop.send(key="a")
    theirs = loop.send(service=loop.housing, key="b")
    act_as(client, loop.users["housing_staff"], loop.housing_agency)
    response = client.get(INBOX)
    assert listed(response) == [theirs.pk]
    assert tab_count(response, "new") == 1
    assert f"#{ours.pk}<" not in response.content.decode()


def test_the_same_person_acting_for_another_agency_sees_that_agencys_inbox(client, loop):
    """The tenant's agency staff also work at an agency that received nothing."""
    loop.send(key="a")
    act_as(client, loop.agency_staff, loop.tenant.agency)
    response = client.get(INBOX)
    assert response.status_code == 200
    assert listed(response) == []
    assert tab_count(response, "new") == 0


def test_another_networks_agency_staff_see_nothing_of_this_one(client, loop, other_loop):
    loop.send(key="a")
    act_as(client, other_loop.agency_staff, other_loop.food_agency)
    response = client.get(INBOX)
    assert response.status_code == 200
    assert listed(response) == []
    assert all(tab_count(response, tab) == 0 for tab in INBOX_TABS)


def test_agency_staff_without_the_receive_permission_are_refused(client, loop):
    """An agency admin's staff role is the one that receives; strip it and the inbox closes."""
    from network.models import Membership
    from network.permissions import permissions_sync

    user = loop.agency_staff
    membership = Membership.objects.get(user=user, organization=loop.food_agency)
    Membership.objects.filter(pk=membership.pk).update(role=Role.CLINIC_STAFF)  # no receive
    permissions_sync(user=user, target=loop.food_agency)
    act_as(client, user, loop.food_agency)
    assert client.get(INBOX).status_code == 403


@pytest.mark.parametrize("page", ["inbox", "tracker"])
def test_a_workspace_page_checks_its_permission_without_reading_the_grant_table(client, loop, page):
    """The middleware hands the request's checker the memberships it read: the inbox's and
    the tracker's permission checks read no grant (a page still answers 403 without the
    permission: test_agency_staff_without_the_receive_permission_are_refused)."""
    from network.models import OrganizationUserObjectPermission

    if page == "inbox":
        act_as(client, loop.agency_staff, loop.food_agency)
        url = reverse("referrals:referral_inbox")
    else:
        act_as(client, loop.clinic_staff, loop.clinic)
        url = reverse("referrals:referral_tracker")
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    grants = OrganizationUserObjectPermission._meta.db_table
    assert captured.captured_queries
    assert not [q["sql"] for q in captured.captured_queries if grants in q["sql"]]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL-only: the inbox indexes (SQLite has none)"
)
@pytest.mark.parametrize("tab", INBOX_TABS)
@pytest.mark.parametrize("descending", [False, True])
def test_a_page_of_every_tab_at_any_depth_reads_an_index_in_order(loop, tab, descending):
    """The page of ids is read in the tab's order from one of the inbox indexes (no sort of
    every referral the agency received): the query writes the indexes' expression exactly,
    whatever order this process iterates a set in."""
    from referrals.selectors.inbox import referral_inbox_tab_keys

    one_of_each(loop)
    keys = referral_inbox_tab_keys(
        user=loop.agency_staff,
        organization=loop.food_agency,
        tab=tab,
        now=timezone.now(),
        descending=descending,
    )[50:75]
    sql, params = keys.query.sql_with_params()
    with connection.cursor() as cursor:
        # A tiny table: forbid the other ways so the plan shows whether an index can serve it.
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "referral_inbox_" in plan, plan
    if tab in ("all", "closed"):  # the order is the index's: nothing sorted
        assert "Sort" not in plan, plan
    assert list(keys) == []  # fewer than 50 on the tab; the query runs


def test_a_rows_text_is_escaped(client, loop):
    """The rows are written in Python (referrals.views.inbox.rows_html): what people typed is
    escaped there as a template would."""
    referral = loop.send(key="markup")
    Referral.objects.filter(pk=referral.pk).update(service_name="<b>Pantry</b> & co")
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(INBOX).content.decode()
    assert "&lt;b&gt;Pantry&lt;/b&gt; &amp; co" in body
    assert "<b>Pantry</b>" not in body
