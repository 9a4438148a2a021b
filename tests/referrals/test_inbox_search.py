"""The agency inbox's closed and all tabs and its search (by referral number or the client's
name, only where the name is disclosed): the right rows, the same queries for any number of
them, nobody else's referrals, and bad input answered calmly."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from consent import services as consent_services
from consent.models import AccessLog, ClientField
from referrals.models import Referral
from referrals.selectors.inbox import INBOX_TABS, InboxSearch
from referrals.services.transitions import referral_transition
from referrals.views.inbox import INBOX_PAGE_SIZE
from tests.conftest import act_as
from tests.referrals.factories import Loop, move
from tests.referrals.inbox_pages import INBOX, inbox, listed, search, tab_count

pytestmark = pytest.mark.django_db


def closed_states(loop: Loop) -> dict[str, Referral]:
    """One open referral and one in each closed state, closed on known days."""
    staff, agency = loop.agency_staff, loop.food_agency
    made = {name: loop.send(key=name) for name in ("open", "completed", "rejected", "failed")}
    made["cancelled"] = loop.send(key="cancelled")
    move(made["completed"], "accepted", staff, agency)
    move(made["completed"], "completed", staff, agency, outcome="service-provided")
    move(made["rejected"], "rejected", staff, agency, reason_code="no-capacity")
    move(made["failed"], "accepted", staff, agency)
    move(
        made["failed"],
        "failed",
        staff,
        agency,
        outcome="client-unreachable",
        reason_code="client-unreachable",
    )
    made["cancelled"].refresh_from_db()
    referral_transition(
        referral=made["cancelled"],
        to="cancelled",
        by=loop.clinic_staff,
        organization=loop.clinic,
        version=made["cancelled"].version,
        reason="Client moved",
    )
    # Closed on fixed, distinct days: the tab lists the latest first.
    for day, name in enumerate(("rejected", "completed", "cancelled", "failed"), start=1):
        Referral.objects.filter(pk=made[name].pk).update(
            closed_at=datetime(2026, 3, day, 15, tzinfo=UTC)
        )
    made["elsewhere"] = loop.send(service=loop.housing, key="elsewhere")
    return made


def test_closed_and_all_tabs_list_what_the_open_tabs_do_not(client, loop):
    made = closed_states(loop)
    act_as(client, loop.agency_staff, loop.food_agency)
    closed = client.get(INBOX, {"tab": "closed"})
    assert closed.status_code == 200
    ids = [made[n].pk for n in ("failed", "cancelled", "completed", "rejected")]
    assert listed(closed) == ids  # the latest closed first
    body = closed.content.decode()
    assert body.count('data-testid="closed-at"') == 4
    assert 'data-testid="overdue"' not in body  # a closed referral owes nothing
    assert "Closed: latest first" in body
    assert listed(client.get(INBOX, {"tab": "closed", "sort": "-due"})) == ids[::-1]
    everything = client.get(INBOX, {"tab": "all"})
    assert set(listed(everything)) == {made[n].pk for n in made if n != "elsewhere"}
    assert listed(everything)[0] == made["open"].pk  # what is due comes first
    assert (tab_count(everything, "closed"), tab_count(everything, "all")) == (4, 5)
    assert tab_count(everything, "new") == 1


def test_search_by_referral_number_with_or_without_the_hash(client, loop):
    first, second = loop.send(key="a"), loop.send(key="b")
    theirs = loop.send(service=loop.housing, key="c")
    act_as(client, loop.agency_staff, loop.food_agency)
    for query in (f"#{first.pk}", str(first.pk), f" # {first.pk} "):
        response = search(client, query)
        assert response.status_code == 200
        assert listed(response) == [first.pk], query
        assert 'aria-current="page" data-testid="tab-all"' in response.content.decode()
    assert listed(search(client, str(second.pk), tab="new")) == [second.pk]
    # Another agency's referral is not found by its number.
    nothing = search(client, f"#{theirs.pk}")
    assert listed(nothing) == []
    assert "No referral on this tab matches the search." in nothing.content.decode()
    # A tab narrows the search: the open referral is not on the closed tab.
    assert listed(search(client, str(first.pk), tab="closed")) == []


def test_search_by_the_clients_name_only_while_the_name_is_disclosed_and_logged(client, loop):
    referral = loop.send(key="a")
    act_as(client, loop.agency_staff, loop.food_agency)
    name = loop.client.last_name
    for query in (name, name.lower(), f"{loop.client.first_name[:3]} {name}"):
        assert listed(search(client, query)) == [referral.pk], query
    assert listed(search(client, "Nobody-By-This-Name")) == []
    logged = AccessLog.objects.filter(referral=referral, fields=[ClientField.NAME])
    assert logged.count() == 3
    assert {row.purpose for row in logged} == {"inbox"}
    # An agreement without the name: a name finds nothing (it would tell the name).
    fields = [f for f in loop.agreements["food"].fields if f != ClientField.NAME]
    narrower = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=fields, effective_from=date(2026, 1, 1)
    )
    consent_services.agreement_activate(agreement=narrower, by=loop.admin)
    assert listed(search(client, name)) == []
    assert listed(search(client, f"#{referral.pk}")) == [referral.pk]  # the number does
    assert logged.count() == 3


def test_a_revoked_consent_hides_the_name_from_search(client, loop):
    loop.send(key="a")
    consent_services.consent_revoke(
        consent=loop.consent, by=loop.clinic_staff, reason="The client asked us to stop."
    )
    act_as(client, loop.agency_staff, loop.food_agency)
    assert listed(search(client, loop.client.last_name)) == []


@pytest.mark.parametrize(
    "params",
    [{"tab": tab} for tab in INBOX_TABS] + [{"q": "lopez"}, {"q": "#1"}, {"q": "maria", "page": 2}],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_every_tab_and_search_costs_the_same_queries_for_few_or_many_rows(client, loop, params):
    staff, agency = loop.agency_staff, loop.food_agency

    def more(count: int, prefix: str) -> None:
        for n in range(count):
            referral = loop.send(key=f"{prefix}-{n}")
            if n % 3 == 1:
                move(referral, "rejected", staff, agency, reason_code="duplicate")
            elif n % 3 == 2:
                move(referral, "accepted", staff, agency)

    more(3, "few")
    act_as(client, staff, agency)

    def cost() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert inbox(client, params).status_code == 200
        return len(captured.captured_queries)

    few = cost()
    more(27, "many")
    assert cost() == few


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"q": "x" * 5000}, 200),
        ({"q": "#" + "9" * 40}, 200),
        ({"q": "#"}, 200),
        ({"q": "\u00e9\u0301"}, 200),
        ({"q": "٣"}, 200),  # a digit, but not a referral number
        ({"tab": "closed", "page": "abc"}, 200),
        ({"tab": "all", "sort": "sideways", "page": "-1"}, 200),
        # A NUL is refused before the view (the project's middleware), never a 500.
        ({"q": "Lop\x00ez"}, 400),
    ],
)
def test_bad_input_is_answered_calmly(client, loop, params, status):
    loop.send(key="a")
    act_as(client, loop.agency_staff, loop.food_agency)
    assert inbox(client, params).status_code == status
    # The search itself drops a NUL however it comes.
    assert InboxSearch.parse("Lop\x00ez") == InboxSearch(number=None, words=("Lopez",))


def test_the_search_words_are_parsed():
    assert InboxSearch.parse("  ") is None
    assert InboxSearch.parse("#12") == InboxSearch(number=12, words=())
    assert InboxSearch.parse(" 12 ") == InboxSearch(number=12, words=())
    assert InboxSearch.parse("Maria  Lopez") == InboxSearch(number=None, words=("Maria", "Lopez"))


def test_tabs_sort_and_pages_post_the_search_again_and_never_put_it_in_an_address(client, loop):
    for n in range(INBOX_PAGE_SIZE + 1):
        loop.send(key=f"r{n}")
    act_as(client, loop.agency_staff, loop.food_agency)
    name = loop.client.last_name
    response = search(client, name, tab="new", sort="due")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'value="{name}"' in body  # the box keeps it
    assert 'data-testid="clear-search"' in body
    # Every tab posts the search again (its own small form), and the order and the next page
    # submit the search form again, to addresses that carry the tab, the order and nothing else.
    tab = re.search(r'<form method="post" action="([^"]*)" class="tab-form"', body)
    assert tab
    assert tab.group(1) == "?tab=new&amp;sort=due"
    assert 'action="?tab=closed&amp;sort=due" class="tab-form"' in body
    assert body.count(f'<input type="hidden" name="q" value="{name}">') == 6
    # Enter in the box presses the search form's first button in the page's order: no button
    # of that form comes before it (a tab there would take the search to its tab).
    assert 'form="inbox-search"' not in body[: body.index('id="inbox-search"')]
    assert 'formaction="?tab=new&amp;sort=-due"' in body  # the order
    assert 'name="page" value="2"' in body
    assert 'id="inbox-search"' in body
    assert 'method="post"' in body
    addresses = re.findall(r'(?:href|action|formaction|hx-get|hx-post)="([^"]*)"', body)
    assert addresses
    assert not [a for a in addresses if name.lower() in a.lower() or "q=" in a]
    # Page two of the same search.
    second = search(client, name, page=2, tab="new", sort="due")
    assert len(listed(second)) == 1
    assert "Page 2 of 2" in second.content.decode()


def test_a_search_in_the_address_is_not_read(client, loop):
    """Nobody can build a link that puts a client's name in an address bar: ``?q=`` is
    ignored and the tab lists as without it."""
    referral = loop.send(key="a")
    loop.send(key="b")
    act_as(client, loop.agency_staff, loop.food_agency)
    response = client.get(INBOX, {"q": f"#{referral.pk}"})
    assert response.status_code == 200
    assert len(listed(response)) == 2
    assert 'data-testid="search-note"' not in response.content.decode()
    assert not AccessLog.objects.filter(purpose="inbox", fields=[ClientField.NAME]).exists()


# --- who may search ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["clinic staff", "network admin"])
def test_people_who_receive_no_referrals_cannot_search_or_see_closed(client, loop, who):
    referral = loop.send(key="a")
    move(referral, "rejected", loop.agency_staff, loop.food_agency, reason_code="duplicate")
    if who == "clinic staff":
        act_as(client, loop.clinic_staff, loop.clinic)
    else:
        act_as(client, loop.admin)
    for params in ({"tab": "closed"}, {"tab": "all"}, {"q": f"#{referral.pk}"}, {"q": "lopez"}):
        assert inbox(client, params).status_code == 403


def test_another_networks_agency_finds_nothing_of_this_one(client, loop, other_loop):
    referral = loop.send(key="a")
    move(referral, "rejected", loop.agency_staff, loop.food_agency, reason_code="duplicate")
    act_as(client, other_loop.agency_staff, other_loop.food_agency)
    for params in (
        {"tab": "closed"},
        {"tab": "all"},
        {"q": f"#{referral.pk}"},
        {"q": loop.client.last_name},
    ):
        response = inbox(client, params)
        assert response.status_code == 200
        assert listed(response) == []
        assert tab_count(response, "all") == 0
    assert not AccessLog.objects.filter(referral=referral, user=other_loop.agency_staff).exists()


def test_another_agency_of_the_network_does_not_find_ours_by_name(client, loop):
    loop.send(key="a")
    theirs = loop.send(service=loop.housing, key="b")
    act_as(client, loop.users["housing_staff"], loop.housing_agency)
    assert listed(search(client, loop.client.last_name)) in ([theirs.pk], [])
    assert listed(client.get(INBOX, {"tab": "all"})) == [theirs.pk]


def test_closed_tab_rows_show_when_they_closed_not_a_due_date(client, loop):
    referral = loop.send(key="a")
    move(referral, "rejected", loop.agency_staff, loop.food_agency, reason_code="duplicate")
    Referral.objects.filter(pk=referral.pk).update(
        response_due_at=datetime(2020, 1, 1, tzinfo=UTC)
        - timedelta(days=1)  # long past: it would read as overdue
    )
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(INBOX, {"tab": "all"}).content.decode()
    assert 'data-testid="closed-at"' in body
    assert 'data-testid="overdue"' not in body
