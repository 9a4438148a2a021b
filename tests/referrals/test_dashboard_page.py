"""The dashboard page in the Wagtail admin: who sees it, the period form, CSV downloads, and a
query count that does not grow with the referrals."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from network.models import Role
from referrals.models import Referral
from tests.network.factories import organization_make
from tests.referrals.factories import HOUR, Ledger, Loop, Steps, consent_back_to

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

URL = reverse("network_dashboard")


def _rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.django_db
def test_url_is_in_the_admin():
    assert URL == "/admin/dashboard/"


@pytest.mark.django_db
def test_network_admin_sees_their_figures_and_the_definitions(client, ledger_today: Ledger):
    loop = ledger_today.loop
    client.force_login(loop.admin)
    response = client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert loop.tenant.network.name in body
    assert loop.food_agency.name in body
    assert loop.housing_agency.name in body
    assert "75.0 %" in body  # the food agency's closed-loop rate
    assert "5.0 h" in body  # its median time to accept
    assert "How the figures are counted" in body
    assert "divided by the referrals due for feedback" in body
    assert 'aria-hidden="true"' in body  # charts are decorative; the tables carry the figures
    # The variance report: the food agency owes two (an answer and an outcome), and its name
    # opens the list of those referrals: numbers, never the client.
    overdue = reverse("network_dashboard_overdue", args=[loop.food_agency.pk])
    assert f'href="{overdue}"' in body
    assert reverse("network_dashboard_overdue", args=[loop.housing_agency.pk]) not in body
    listing = client.get(overdue)
    assert listing.status_code == 200
    listed = listing.content.decode()
    f4, f5 = ledger_today.referrals["F4"], ledger_today.referrals["F5"]
    assert listed.index(f"#{f4.pk}<") < listed.index(f"#{f5.pk}<")  # longest overdue first
    assert "has 2 referrals overdue now" in listed
    for page in (body, listed):
        assert "Maria" not in page
        assert "Lopez" not in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.CLINIC_STAFF, Role.CLINIC_ADMIN, Role.AGENCY_STAFF, Role.AGENCY_ADMIN]
)
def test_other_roles_cannot_see_it(client, ledger_today: Ledger, role):
    client.force_login(ledger_today.loop.tenant.users[role])
    for url in (URL, URL + "?format=csv&table=agencies"):
        response = client.get(url)
        assert response.status_code in {302, 403}, (role, url)
        assert ledger_today.loop.food_agency.name.encode() not in response.content


@pytest.mark.django_db
def test_anonymous_is_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("wagtailadmin_login"))


@pytest.mark.django_db
def test_admin_of_another_network_sees_only_their_own(client, ledger_today: Ledger, other_loop):
    mine = ledger_today.loop
    client.force_login(other_loop.admin)
    body = client.get(URL).content.decode()
    assert other_loop.tenant.network.name in body
    assert mine.tenant.network.name not in body
    assert f"#{ledger_today.referrals['F4'].pk}<" not in body
    # Asking for the other network by id finds nothing, as a page or as CSV.
    asked = f"{URL}?network={mine.tenant.network.pk}"
    assert client.get(asked).status_code == 404
    assert client.get(asked + "&format=csv&table=overdue").status_code == 404


@pytest.mark.django_db
def test_superuser_chooses_among_all_networks(client, superuser, ledger_today: Ledger, other_loop):
    client.force_login(superuser)
    mine = ledger_today.loop.tenant.network
    response = client.get(f"{URL}?network={mine.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="network"' in body  # the chooser
    assert other_loop.tenant.network.name in body
    assert "75.0 %" in body
    other = client.get(f"{URL}?network={other_loop.tenant.network.pk}").content.decode()
    assert "75.0 %" not in other


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-10-01&end=2026-09-01", "is after the end date"),
        ("start=2020-01-01&end=2026-01-01", "at most 731 days"),
        ("start=yesterday", "Enter a valid date."),
    ],
)
def test_bad_periods_are_explained(client, loop: Loop, query, message):
    client.force_login(loop.admin)
    response = client.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()
    csv_response = client.get(f"{URL}?{query}&format=csv&table=agencies")
    assert csv_response.status_code == 400
    assert message in csv_response.content.decode()


@pytest.mark.django_db
def test_period_filter_on_the_page(client, ledger_today: Ledger):
    loop = ledger_today.loop
    client.force_login(loop.admin)
    # 11 to 4 days ago (network time): F5 and F6 only.
    tz = ZoneInfo(loop.tenant.network.time_zone)
    start = (ledger_today.now - 11 * 24 * HOUR).astimezone(tz).date().isoformat()
    end = (ledger_today.now - 4 * 24 * HOUR).astimezone(tz).date().isoformat()
    rows = _rows(client.get(f"{URL}?start={start}&end={end}&format=csv&table=agencies"))
    sent = {row[0]: row[1] for row in rows[1:]}
    assert sent[loop.food_agency.name] == "2"
    assert sent[loop.housing_agency.name] == "0"
    assert sent["All agencies"] == "2"


@pytest.mark.django_db
def test_csv_downloads(client, ledger_today: Ledger):
    loop = ledger_today.loop
    network = loop.tenant.network
    client.force_login(loop.admin)
    response = client.get(f"{URL}?format=csv&table=agencies")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith(f'attachment; filename="{network.slug}-agencies-')
    rows = _rows(response)
    assert rows[0][:5] == [
        "Agency",
        "Referrals sent",
        "Due for feedback",
        "Closed loop",
        "Closed-loop rate (%)",
    ]
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name[loop.food_agency.name][1:9] == ["6", "4", "3", "75.0", "4", "5.0", "2", "33.3"]
    assert by_name["All agencies"][1:5] == ["9", "6", "5", "83.3"]

    outcomes = _rows(client.get(f"{URL}?format=csv&table=outcomes"))
    assert outcomes[0] == ["Outcome", "Food", "Housing", "All needs"]
    assert ["Service provided", "1", "1", "1"] in outcomes

    weeks = _rows(client.get(f"{URL}?format=csv&table=weeks"))
    assert weeks[0] == ["Week starting", "Referrals sent"]
    assert sum(int(row[1]) for row in weeks[1:]) == 9

    overdue = _rows(client.get(f"{URL}?format=csv&table=overdue"))
    assert overdue[0] == ["Agency", "Referral", "Service", "Sent", "Due", "Owed", "Days overdue"]
    f4, f5 = ledger_today.referrals["F4"], ledger_today.referrals["F5"]
    assert [(row[1], row[5]) for row in overdue[1:]] == [
        (str(f4.pk), "outcome"),
        (str(f5.pk), "answer"),
    ]
    assert overdue[1][6] == "9"

    unknown = client.get(f"{URL}?format=csv&table=clients")
    assert unknown.status_code == 400


@pytest.mark.django_db
def test_csv_never_starts_a_cell_with_a_formula(client, loop: Loop):
    network = loop.tenant.network
    names = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTabbed"]
    for name in names:
        organization_make(network, "agency", name=name)
    client.force_login(loop.admin)
    rows = _rows(client.get(f"{URL}?format=csv&table=agencies"))
    cells = [row[0] for row in rows[1:]]
    for name in names:
        assert "'" + name in cells
    assert not any(cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row)
    # Plain names and numbers are left alone.
    assert loop.food_agency.name in cells


def _queries(client, url: str = URL) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def _grow(loop: Loop, ledger: Ledger, count: int, start: int) -> None:
    """``count`` referrals through the services, in a rotation of end states."""
    steps = Steps(ledger)
    for n in range(start, start + count):
        referral = steps.send(f"Q{n}", (n % 50 + 1) * 24 * HOUR, housing=bool(n % 2))
        kind = n % 4
        if kind == 0:
            continue  # waiting, soon overdue
        steps.change(referral, "accepted", (n % 7 + 1) * HOUR)
        if kind == 2:
            steps.change(referral, "completed", 2 * 24 * HOUR, outcome="service-provided")
        elif kind == 3:
            steps.change(referral, "failed", 3 * HOUR, reason="No slot", outcome="no-capacity")


@pytest.mark.django_db
def test_query_count_does_not_grow_with_referrals(client, loop: Loop):
    now = timezone.now()
    consent_back_to(loop, now - 200 * 24 * HOUR, now + 365 * 24 * HOUR)
    ledger = Ledger(loop=loop, now=now)
    client.force_login(loop.admin)
    _grow(loop, ledger, 5, 0)  # Q4, at the food agency, unanswered for 5 days: overdue
    computed, kept = _queries(client), _queries(client)  # a snapshot computed, then served
    refreshed = _queries(client, URL + "?refresh=1")
    assert kept < computed == refreshed
    overdue_url = reverse("network_dashboard_overdue", args=[loop.food_agency.pk])
    overdue = _queries(client, overdue_url)
    _grow(loop, ledger, 25, 5)
    # Just after the change, the snapshot is shown and says the referrals changed since.
    assert _queries(client) == kept
    assert "Referrals have changed since." in client.get(URL).content.decode()
    assert _queries(client, URL + "?refresh=1") == refreshed
    body = client.get(URL).content.decode()
    assert "<td>30</td>" in body  # all agencies: 30 referrals sent
    assert "Referrals have changed since." not in body
    assert _queries(client) == kept
    assert _queries(client, overdue_url) == overdue


@pytest.mark.django_db
def test_menu_item_for_network_admins_only(client, loop: Loop):
    client.force_login(loop.admin)
    assert URL in client.get(reverse("wagtailadmin_home")).content.decode()
    client.force_login(loop.tenant.users[Role.AGENCY_ADMIN])
    response = client.get(reverse("wagtailadmin_home"))
    assert URL not in response.content.decode()


@pytest.mark.django_db
def test_tiles_idle_agencies_folded_and_the_computed_time_reads_once(client, ledger_today: Ledger):
    loop = ledger_today.loop
    client.force_login(loop.admin)
    body = client.get(URL).content.decode()
    tiles = body[body.index('class="dashboard-tiles"') : body.index("</dl>")]
    assert "<dt>Referrals sent</dt><dd>9</dd>" in tiles
    assert "<dt>Accepted</dt><dd>5</dd>" in tiles
    assert "83.3 %" in tiles  # closed-loop rate: 5 of 6 due
    assert "5 closed of 6 due for feedback" in tiles
    assert "<dt>Overdue now</dt><dd>2</dd>" in tiles
    assert "<dt>Declined or not completed</dt><dd>2</dd>" in tiles  # F2 failed, F3 declined
    # Agencies that received nothing are folded away under their count, not in the table.
    table = body[body.index('id="agencies"') : body.index("</table>", body.index('id="agencies"'))]
    assert loop.food_agency.name in table
    assert loop.tenant.agency.name not in table
    details = body[body.index("<details") : body.index("</details>")]
    assert "without referrals in this period" in details
    assert loop.tenant.agency.name in details
    # The agency table scrolls within the page rather than being cut off.
    assert body.count('class="dashboard-table-wrap"') >= 2
    # "computed at … p.m.." read a double period after the time.
    computed = body[body.index('class="dashboard-computed') :]
    computed = computed[: computed.index("</p>")]
    assert "computed at" in computed
    assert ".." not in computed


@pytest.mark.django_db
def test_decline_reasons_by_agency_on_the_page_and_as_csv(client, ledger_today: Ledger):
    loop = ledger_today.loop
    Referral.objects.filter(pk=ledger_today.referrals["F2"].pk).update(reason_code="no-capacity")
    Referral.objects.filter(pk=ledger_today.referrals["F3"].pk).update(reason_code="not-eligible")
    client.force_login(loop.admin)
    body = client.get(URL + "?refresh=1").content.decode()
    section = body[body.index('id="reasons"') : body.index('id="outcomes"')]
    assert "No capacity" in section
    assert "Not eligible" in section
    assert loop.food_agency.name in section
    assert loop.housing_agency.name not in section  # nothing declined there
    assert "no-capacity" not in section  # labels, never the codes
    rows = _rows(client.get(f"{URL}?format=csv&table=reasons"))
    assert rows[0] == [
        "Agency",
        "Not eligible",
        "No capacity",
        "Could not reach the client",
        "Client declined",
        "Duplicate referral",
        "Other",
        "No reason code",
        "All reasons",
    ]
    by_name = {row[0]: row[1:] for row in rows[1:]}
    assert by_name[loop.food_agency.name] == ["1", "1", "0", "0", "0", "0", "0", "2"]
    assert by_name["All agencies"][-1] == "2"


@pytest.mark.django_db
def test_decline_reasons_of_another_network_are_not_counted(
    client, ledger_today: Ledger, other_loop
):
    Referral.objects.filter(pk=ledger_today.referrals["F3"].pk).update(reason_code="not-eligible")
    client.force_login(other_loop.admin)
    rows = _rows(client.get(f"{URL}?format=csv&table=reasons"))
    assert rows[-1][0] == "All agencies"
    assert all(cell == "0" for row in rows[1:] for cell in row[1:])
