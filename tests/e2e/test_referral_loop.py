"""The whole referral loop in a real browser, as the people who use it go through it.

Clinic staff screen a client, pick two services of two agencies in the search, record the
client's verbal consent and send both referrals in one form; the first agency sees only what its
agreement discloses and accepts, the second declines with a reason, the first completes with an
outcome; the clinic's tracker shows both answers and the network admin's closed-loop rate moves.
It runs in English on a desktop and in Spanish on a phone (375 px): both languages and both
sizes, for twice the time of one run rather than four times; the words come from the project's
catalogue (tests/e2e/words.py). A screenshot of every step lands in
test-artifacts/loop-<language>-<width>-*.png.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db.models import F

from referrals.models import Referral
from tests.e2e.cast import (
    CLIENT_STREET,
    OUTCOME_DAYS,
    Cast,
    client_find,
    log_in,
    log_out,
)
from tests.e2e.conftest import screenshot
from tests.e2e.walk import signed_in
from tests.e2e.words import Words, page_words, words


def closed_loop_rate(page, site: str, *, compute: bool = False) -> str:  # type: ignore[no-untyped-def]
    """The whole network's closed-loop rate on the admin dashboard (the "All agencies" row);
    with ``compute``, after asking for the figures to be computed now (the page may show those
    of a minute ago, saying that referrals changed since)."""
    page.goto(f"{site}/admin/dashboard/")
    t = page_words(page)  # the admin's language
    if compute:
        page.get_by_role("link", name=t("Compute them now")).click()
        page.wait_for_load_state("load")
    total = (
        page.get_by_role("row")
        .filter(has=page.get_by_role("rowheader", name=t("All agencies"), exact=True))
        .first
    )  # the closed-loop table (the decline reasons' table has its own total row)
    total.scroll_into_view_if_needed()
    # Cells after the row header: sent, due for feedback, closed loop, closed-loop rate, …
    # (Spanish writes "0,0 %": the decimal comma is read as a point.)
    return total.get_by_role("cell").nth(3).inner_text().strip().replace(",", ".")


def open_from_inbox(page, t: Words, service: str, tab: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("navigation", name=t("Main")).get_by_role("link", name=t("Inbox")).click()
    if tab:
        page.get_by_role("link", name=re.compile(rf"^{tab}")).click()
        page.wait_for_url(re.compile(r"tab="))
    row = page.get_by_role("row").filter(has_text=service)
    row.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    page.get_by_role("heading", level=1, name=re.compile(service)).wait_for()


def status_of(page) -> str:  # type: ignore[no-untyped-def]
    return page.get_by_test_id("status").inner_text()


@pytest.mark.parametrize(
    ("language", "width"), [("en", 1280), ("es", 375)], ids=["en-desktop", "es-phone"]
)
@pytest.mark.django_db(transaction=True)
def test_referral_loop_from_screening_to_closed_loop_rate(
    browser, site, cast: Cast, language: str, width: int
):
    with signed_in(
        browser, site, None, language=language, viewport={"width": width, "height": 900}
    ) as page:
        the_loop(page, site, cast, words(language), f"loop-{language}-{width}")


def the_loop(page, site: str, cast: Cast, t: Words, shot: str) -> None:  # type: ignore[no-untyped-def]
    main = page.get_by_role("navigation", name=t("Main"))
    done = t("The referral is now %(status)s.", status="%s")

    # (1) Clinic staff sign in through the form.
    log_in(page, site, cast.clinic_staff)
    assert page.get_by_role("heading", level=1, name=t("Workspace")).is_visible()
    screenshot(page, f"{shot}-01-clinic-signed-in")

    # (2) Find the client and screen her.
    main.get_by_role("link", name=t("Clients")).click()
    client_find(page, "Lopez", 1)
    assert "Lopez" not in page.url  # what is typed is posted, never put in the address
    page.get_by_role("link", name="Lopez, Maria").click()
    page.get_by_role("heading", level=1, name="Maria Lopez").wait_for()
    page.get_by_role("link", name=t("Screen for needs")).first.click()
    page.get_by_role("group", name=t("Living situation today")).get_by_label(
        t("A place to live today, but worried about losing it")
    ).check()
    page.get_by_role(
        "group",
        name=t("In the past year, worried food would run out before there was money for more"),
    ).get_by_label(t("Often true")).check()
    page.get_by_role(
        "group", name=t("In the past year, food ran out and there was no money for more")
    ).get_by_label(t("Sometimes true")).check()
    screenshot(page, f"{shot}-02-screening-form")
    page.get_by_role("button", name=t("Save and see the result")).click()
    page.get_by_role("heading", level=1, name=t("Screening result")).wait_for()
    positive = page.get_by_role("region", name=t("Screened positive")).inner_text()
    assert t("Food") in positive
    assert t("Living situation") in positive
    screenshot(page, f"{shot}-03-screening-result")

    # (3) From the result to the search, with the needs ticked; select two services.
    page.get_by_role("link", name=t("Find services for %(name)s", name="Maria Lopez")).click()
    page.wait_for_url(re.compile(r"/workspace/search/"))
    screenshot(page, f"{shot}-04a-search-from-client")
    page.get_by_role("heading", name="Harbor Food Pantry").wait_for()
    page.get_by_role("heading", name="Rent Help").wait_for()
    assert page.get_by_text(t("Referring %(name)s", name="Maria Lopez")).is_visible()
    for service in ("Harbor Food Pantry", "Rent Help"):
        # Named "Select for referral: <service>" (the service name is visually hidden).
        page.get_by_role(
            "checkbox", name=re.compile(rf"^{re.escape(t('Select for referral'))}\W+{service}$")
        ).check()
    screenshot(page, f"{shot}-04-search-selected")
    page.get_by_role("button", name=t("Refer to the selected services")).click()
    send_two = t(("Send a referral", "Send %(n)s referrals"), 2, n=2)
    page.get_by_role("heading", level=1, name=send_two).wait_for()

    # (4) Record the client's verbal consent in the same form and send.
    assert page.get_by_label(t("Client"), exact=True).input_value() == str(cast.client.pk)
    page.get_by_role("radio", name=t("Verbal, attested by me")).check()
    wording = page.get_by_role("blockquote").inner_text()
    assert "Harbor Food Bank" in wording
    assert "Bay Housing" in wording
    page.get_by_role(
        "checkbox", name=t("I read these words to the client and they agreed.")
    ).check()
    screenshot(page, f"{shot}-05-send-with-consent")
    page.get_by_role("button", name=t(("Send referral", "Send %(n)s referrals"), 2, n=2)).click()
    page.get_by_role("heading", level=1, name=t("Referrals sent")).wait_for()
    sent_to = t(
        ("Referral sent to %(agencies)s.", "Referrals sent to %(agencies)s."), 2, agencies=""
    )
    assert page.get_by_text(sent_to.rstrip(". ")).is_visible()
    screenshot(page, f"{shot}-06-sent")

    referrals = {
        r.agency_id: r for r in Referral.objects.filter(client=cast.client, sender=cast.clinic)
    }
    assert set(referrals) == {cast.food_agency.pk, cast.housing_agency.pk}
    assert {r.status for r in referrals.values()} == {"requested"}
    food_referral = referrals[cast.food_agency.pk]
    housing_referral = referrals[cast.housing_agency.pk]
    assert food_referral.consent_id is not None
    assert food_referral.consent.method == "verbal"

    # The feedback window passes: the closed-loop rate counts only referrals sent at least the
    # agreement's outcome window ago (network/dashboard.py), here the smallest allowed, one day.
    # Rather than wait a day, both referrals are moved one window into the past, as if sent
    # then; nothing else about them changes (their timeline events are append-only, and the
    # dashboard reads the referrals' own times).
    window = timedelta(days=OUTCOME_DAYS)
    sent = [food_referral.pk, housing_referral.pk]
    Referral.objects.filter(pk__in=sent).update(
        sent_at=F("sent_at") - window,
        created_at=F("created_at") - window,
        response_due_at=F("response_due_at") - window,
    )

    # (9, before) The network admin's dashboard: both due for feedback, none closed: 0 %.
    log_out(page)
    log_in(page, site, cast.admin)
    assert closed_loop_rate(page, site) == "0.0 %"
    screenshot(page, f"{shot}-07-dashboard-before")

    # (5) The first agency: the inbox, the referral with only the agreed fields, accept.
    page.goto(f"{site}/workspace/")  # the site's "Sign out" (the admin has its own menu)
    log_out(page)
    log_in(page, site, cast.food_staff)
    open_from_inbox(page, t, "Harbor Food Pantry")
    client_section = page.get_by_role("region", name=t("Client")).inner_text()
    assert "Maria Lopez" in client_section
    assert "707-555-0100" in client_section
    body = page.locator("body").inner_text()
    for hidden in (
        t("Date of birth"),
        "1980",
        t("Address"),
        CLIENT_STREET,
        "maria@example.org",
    ):
        assert hidden not in body, f"{hidden!r} is not in the food bank's agreement"
    screenshot(page, f"{shot}-08-agency-referral-disclosed")
    page.get_by_role("button", name=t("Accept")).click()
    page.get_by_text(done % t("Accepted").lower()).wait_for()
    assert status_of(page) == t("Accepted")
    screenshot(page, f"{shot}-09-accepted")

    # (6) The second agency declines, with a reason.
    log_out(page)
    log_in(page, site, cast.housing_staff)
    open_from_inbox(page, t, "Rent Help")
    page.locator("summary", has_text=t("Decline")).click()
    decline_form = page.locator("form").filter(has=page.get_by_label(t("Reason for declining")))
    decline_form.get_by_label(t("Reason for declining")).select_option("no-capacity")
    reason = decline_form.get_by_label(
        t("Why are you declining? (required for “Other”; the clinic sees this)")
    )
    reason.fill("Our rent fund is spent until July.")
    screenshot(page, f"{shot}-10-decline-reason")
    decline_form.get_by_role("button", name=t("Decline")).click()
    page.get_by_text(done % t("Declined").lower()).wait_for()
    assert status_of(page) == t("Declined")
    assert page.get_by_text("Our rent fund is spent until July.").first.is_visible()
    screenshot(page, f"{shot}-11-declined")

    # (7) The first agency starts work, then completes it with an outcome.
    log_out(page)
    log_in(page, site, cast.food_staff)
    open_from_inbox(page, t, "Harbor Food Pantry", tab=t("In progress"))
    page.get_by_role("button", name=t("Start work")).click()
    page.get_by_text(done % t("In progress").lower()).wait_for()
    complete = page.locator("details").filter(
        has=page.locator("summary", has_text=t("Mark completed"))
    )
    complete.locator("summary").click()
    complete.get_by_label(t("How did it end?")).select_option(label=t("Service provided"))
    complete.get_by_label(t("Outcome note (optional)")).fill("Groceries picked up.")
    complete.get_by_role("button", name=t("Mark completed")).click()
    page.get_by_text(done % t("Completed").lower()).wait_for()
    assert status_of(page) == t("Completed")
    screenshot(page, f"{shot}-12-completed")

    # (8) The clinic's tracker shows both answers.
    log_out(page)
    log_in(page, site, cast.clinic_staff)
    main.get_by_role("link", name=t("Referrals sent")).click()
    rows = page.get_by_role("table").get_by_role("row")
    food_row = rows.filter(has_text="Harbor Food Pantry")
    housing_row = rows.filter(has_text="Rent Help")
    assert t("Completed") in food_row.inner_text()
    assert t("Declined") in housing_row.inner_text()
    screenshot(page, f"{shot}-13-tracker")

    # (9, after) Both referrals due for feedback are closed: the rate is 100 %.
    log_out(page)
    log_in(page, site, cast.admin)
    assert closed_loop_rate(page, site, compute=True) == "100.0 %"
    screenshot(page, f"{shot}-14-dashboard-after")

    food_referral.refresh_from_db()
    housing_referral.refresh_from_db()
    assert (food_referral.status, food_referral.outcome) == ("completed", "service-provided")
    assert (housing_referral.status, housing_referral.reason_code) == ("rejected", "no-capacity")
    assert housing_referral.status_reason == "Our rent fund is spent until July."
