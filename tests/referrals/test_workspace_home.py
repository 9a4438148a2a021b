"""The workspace home says what needs doing, each count linking to the list that shows it:
agency staff their new and overdue referrals, clinic staff what they wait for and what was
declined, everyone their unread notifications. A fixed number of queries; nothing of another
organization or network."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from django.urls import reverse

from network.models import Role
from referrals.models import Channel, Notification
from tests.conftest import act_as, queries
from tests.referrals.factories import DAY, HOUR, Ledger, Steps

pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

URL = reverse("network:workspace")


def _tasks(body: str) -> dict[str, tuple[int, str]]:
    """{label: (count, link)} of the "What needs doing" panel."""
    start = body.index('class="workspace-tasks"')
    panel = body[start : body.index("</ul>", start)]
    tasks = {}
    for item in panel.split("<li>")[1:]:
        href = item.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
        count = int(item.split('">', 2)[2].split("</span>", 1)[0])
        label = item.split("</span>", 1)[1].split("</a>", 1)[0].strip()
        tasks[label] = (count, href)
    return tasks


def _unread(user) -> int:  # type: ignore[no-untyped-def]
    return Notification.objects.filter(
        user=user, channel=Channel.IN_APP, read_at__isnull=True
    ).count()


@pytest.mark.django_db
def test_agency_staff_see_new_and_overdue_referrals(client, ledger_today: Ledger):
    loop = ledger_today.loop
    user = loop.agency_staff
    act_as(client, user, loop.food_agency)
    tasks = _tasks(client.get(URL).content.decode())
    inbox = reverse("referrals:referral_inbox")
    # F5 is new (and overdue); F4's outcome is overdue.
    assert tasks["new referral to answer"] == (1, f"{inbox}?tab=new")
    assert tasks["overdue referrals received"] == (2, f"{inbox}?tab=overdue")
    unread = _unread(user)
    label = "unread notification" if unread == 1 else "unread notifications"
    assert tasks[label] == (unread, reverse("referrals:notification_list"))
    # Nothing of the clinic's side.
    assert not any("refer elsewhere" in label for label in tasks)
    # The links lead to lists that show those referrals.
    assert client.get(f"{inbox}?tab=new").status_code == 200


@pytest.mark.django_db
def test_clinic_staff_see_what_they_wait_for_and_what_to_refer_elsewhere(
    client, ledger_today: Ledger
):
    loop = ledger_today.loop
    steps = Steps(ledger_today)
    declined = steps.send("D1", 2 * DAY)
    steps.change(declined, "rejected", 1 * HOUR, reason="Full")
    act_as(client, loop.clinic_staff, loop.clinic)
    tasks = _tasks(client.get(URL).content.decode())
    # Waiting: F4 (in progress), F5 (requested), F6 (accepted), H3 (requested).
    count, link = tasks["referrals sent awaiting an answer or outcome"]
    assert count == 4
    tracker = reverse("referrals:referral_tracker")
    assert urlsplit(link).path == tracker
    assert sorted(v for k, v in parse_qsl(urlsplit(link).query) if k == "status") == [
        "accepted",
        "in-progress",
        "on-hold",
        "requested",
    ]
    assert tasks["referrals sent are overdue"][0] == 2
    # F2 (failed) and F3 (declined) were sent 45 and 50 days ago; D1 two days ago.
    count, link = tasks["referral declined or not completed in the last 30 days: refer elsewhere"]
    assert count == 1
    listed = client.get(link)
    assert listed.status_code == 200
    shown = listed.content.decode()
    assert f'data-referral="{declined.pk}"' in shown
    assert f'data-referral="{ledger_today.referrals["F2"].pk}"' not in shown
    assert not any(label.startswith("new referral") for label in tasks)


@pytest.mark.django_db
def test_a_network_admin_without_an_organization_sees_only_notifications(
    client, ledger_today: Ledger
):
    """Wrong role: a network admin acting for the network (no organization) neither sends nor
    answers referrals, and gets no referral counts."""
    act_as(client, ledger_today.loop.admin, None)
    response = client.get(URL)
    assert response.status_code == 200
    tasks = _tasks(response.content.decode())
    assert list(tasks) in (["unread notification"], ["unread notifications"])


@pytest.mark.django_db
def test_agency_roles_never_see_the_clinics_counts(client, ledger_today: Ledger):
    loop = ledger_today.loop
    act_as(client, loop.tenant.users[Role.AGENCY_ADMIN], loop.food_agency)
    tasks = _tasks(client.get(URL).content.decode())
    assert tasks["new referral to answer"][0] == 1
    assert not any("sent" in label or "elsewhere" in label for label in tasks)


@pytest.mark.django_db
def test_counts_stay_within_the_organization_and_the_network(
    client, ledger_today: Ledger, other_loop
):
    # The other network's food agency staff see none of the first network's referrals.
    act_as(client, other_loop.agency_staff, other_loop.food_agency)
    tasks = _tasks(client.get(URL).content.decode())
    assert tasks["new referrals to answer"][0] == 0
    assert tasks["overdue referrals received"][0] == 0
    act_as(client, other_loop.clinic_staff, other_loop.clinic)
    tasks = _tasks(client.get(URL).content.decode())
    assert tasks["referrals sent awaiting an answer or outcome"][0] == 0
    # The housing agency's staff, in the same network, count only theirs (H3, waiting).
    loop = ledger_today.loop
    act_as(client, loop.users["housing_staff"], loop.housing_agency)
    tasks = _tasks(client.get(URL).content.decode())
    assert tasks["new referral to answer"][0] == 1
    assert tasks["overdue referrals received"][0] == 0


@pytest.mark.django_db
def test_query_count_does_not_grow_with_referrals(client, ledger_today: Ledger):
    loop = ledger_today.loop
    steps = Steps(ledger_today)
    act_as(client, loop.clinic_staff, loop.clinic)
    clinic_before = queries(client, URL)
    act_as(client, loop.agency_staff, loop.food_agency)
    agency_before = queries(client, URL)
    for n in range(6):
        referral = steps.send(f"G{n}", (n + 1) * DAY, housing=bool(n % 2))
        if n % 3 == 1:
            steps.change(referral, "rejected", HOUR, reason="Full")
    assert queries(client, URL) == agency_before
    act_as(client, loop.clinic_staff, loop.clinic)
    assert queries(client, URL) == clinic_before
