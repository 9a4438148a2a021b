"""Accessibility of the main pages in a real browser: axe-core finds no serious or critical
WCAG 2 A/AA violation, nothing scrolls sideways on a 375 px wide phone, and the footer's
language switcher turns the pages into Spanish.

axe-core comes from the ``axe-playwright-python`` package (its bundled axe.min.js), not from a
copy in this tree.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from consent import services as consent_services
from network.models import User
from referrals.models import Referral
from referrals.services.clients import screening_record
from referrals.services.sending import referral_send
from tests.e2e.cast import Cast, log_in
from tests.e2e.conftest import screenshot

PHONE_WIDTH = 375
BLOCKING = {"serious", "critical"}


def axe_script() -> Path:
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        pytest.fail("axe-core comes with the dev extra: pip install axe-playwright-python")
    return Path(spec.origin).with_name("axe.min.js")


@pytest.fixture
def sent(cast: Cast) -> dict[str, Referral]:
    """The client was screened, consented and was referred to both agencies (so every page has
    something to show: the screening result, the tracker, the inbox, both sides of a referral)."""
    now = timezone.now()
    screening_record(
        client=cast.client,
        by=cast.clinic_staff,
        organization=cast.clinic,
        answers={"71802-3": "LA31994-9", "88122-7": "LA28397-0"},  # housing, food
    )
    consent_services.consent_record(
        client=cast.client,
        by=cast.clinic_staff,
        organization=cast.clinic,
        categories=["food-insecurity", "housing-instability"],
        method="verbal",
        attestation="I read the standard consent script.",
        whole_network=True,
        granted_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(days=365),
    )
    sent = {
        name: referral_send(
            client=cast.client,
            by=cast.clinic_staff,
            sender=cast.clinic,
            service=service,
            categories=[category],
            idempotency_key=f"a11y-{name}",
        )
        for name, service, category in (
            ("food", cast.food, "food-insecurity"),
            ("housing", cast.housing, "housing-instability"),
        )
    }
    # The food agency's answer is overdue: the inbox and the overdue list show one.
    Referral.objects.filter(pk=sent["food"].pk).update(response_due_at=now - timedelta(hours=1))
    return sent


@contextmanager
def signed_in(browser, site: str, user: User | None, **options) -> Iterator:  # type: ignore[no-untyped-def]
    """A fresh browser context (signed in through the form unless ``user`` is None)."""
    context = browser.new_context(**options)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    # axe-core is served from the site's own origin: the Content-Security-Policy refuses
    # inline scripts, so it cannot be injected as one.
    tab.route(f"{site}/__axe.js", lambda route: route.fulfill(path=str(axe_script())))
    if user is not None:
        log_in(tab, site, user)
    try:
        yield tab
    finally:
        context.close()


Pages = list[tuple[User | None, dict[str, str]]]


def main_pages(cast: Cast, sent: dict[str, Referral]) -> Pages:
    """(the user, or None for anyone; the pages they open, by name)."""
    client = cast.client.pk
    screening = cast.client.screenings.get().pk
    food, housing = cast.food.pk, cast.housing.pk
    return [
        (None, {"login": "/accounts/login/"}),
        (
            cast.clinic_staff,
            {
                "workspace": "/workspace/",
                "client-list": "/workspace/clients/",
                "client": f"/workspace/clients/{client}/",
                "screening-form": f"/workspace/clients/{client}/screen/",
                "screening-result": f"/workspace/clients/{client}/screenings/{screening}/",
                "search": f"/workspace/search/?client={client}&category=food-insecurity"
                "&category=housing-instability",
                "send": f"/workspace/referrals/new/?service={food}&service={housing}"
                f"&client={client}",
                "tracker": "/workspace/referrals/sent/",
                "referral-clinic-side": f"/workspace/referrals/{sent['food'].pk}/",
            },
        ),
        (
            cast.food_staff,
            {
                "inbox": "/workspace/inbox/",
                "referral-agency-side": f"/workspace/referrals/{sent['food'].pk}/",
                "listings": "/workspace/listings/",
            },
        ),
        (
            cast.admin,
            {
                "dashboard": "/admin/dashboard/",
                "overdue-list": f"/admin/dashboard/overdue/{cast.food_agency.pk}/",
            },
        ),
    ]


def visit_all(
    browser,  # type: ignore[no-untyped-def]
    site: str,
    pages: Pages,
    check: Callable[..., list[str]],
    **options,  # type: ignore[no-untyped-def]
) -> list[str]:
    """Open every page as its user and run ``check(tab, name)``; what it finds, page by page."""
    problems: list[str] = []
    for user, paths in pages:
        with signed_in(browser, site, user, **options) as tab:
            for name, path in paths.items():
                response = tab.goto(site + path)
                assert response is not None, (name, path)
                assert response.status == 200, (name, path)
                tab.wait_for_load_state("load")
                # The forms folded in <details> (decline, complete, revoke…) are checked open.
                tab.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true })")
                problems += [f"{name} ({path}): {problem}" for problem in check(tab, name)]
    return problems


def axe_violations(tab, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    if not tab.evaluate("typeof window.axe === 'object'"):
        tab.add_script_tag(url="/__axe.js")
    results = tab.evaluate(
        """() => axe.run(document, {
            runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]},
            resultTypes: ["violations"],
        })"""
    )
    return [
        f"{v['id']} [{v['impact']}] {v['help']}: "
        + "; ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:5])
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


def sideways_scroll(tab, name: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Wider than the phone? And, since the narrow layout differs, axe-core again."""
    screenshot(tab, f"phone-{name}")
    problems = axe_violations(tab, name)
    width = tab.evaluate("document.documentElement.scrollWidth")
    if width <= PHONE_WIDTH + 1:
        return problems
    wide = tab.evaluate(
        """(limit) => [...document.querySelectorAll("body *")]
            .filter(el => el.getBoundingClientRect().right > limit + 1)
            .slice(0, 5)
            .map(el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
                 + (el.className && typeof el.className === "string"
                    ? "." + el.className.trim().split(/\\s+/).join(".") : ""))""",
        PHONE_WIDTH,
    )
    return [*problems, f"{width} px wide; reaching past the edge: {', '.join(wide)}"]


@pytest.mark.django_db(transaction=True)
def test_main_pages_have_no_serious_or_critical_axe_violations(browser, site, cast, sent):
    problems = visit_all(browser, site, main_pages(cast, sent), axe_violations)
    assert not problems, "axe-core (wcag2a, wcag2aa) found:\n" + "\n".join(problems)


@pytest.mark.django_db(transaction=True)
def test_main_pages_do_not_scroll_sideways_on_a_phone(browser, site, cast, sent):
    problems = visit_all(
        browser,
        site,
        main_pages(cast, sent),
        sideways_scroll,
        viewport={"width": PHONE_WIDTH, "height": 800},
    )
    assert not problems, f"At {PHONE_WIDTH} px wide:\n" + "\n".join(problems)


@pytest.mark.django_db(transaction=True)
def test_forms_refused_with_errors_have_no_serious_or_critical_axe_violations(
    browser, site, cast, sent
):
    """The error states: a wrong password, an empty screening, a new client without details,
    and referrals sent with verbal consent not confirmed."""
    problems: list[str] = []
    with signed_in(browser, site, None) as tab:
        tab.goto(f"{site}/accounts/login/")
        tab.get_by_label("Username").fill(cast.clinic_staff.username)
        tab.get_by_label("Password").fill("not the password")
        tab.get_by_role("button", name="Sign in").click()
        tab.get_by_role("alert").wait_for()
        problems += [f"login refused: {p}" for p in axe_violations(tab, "login")]
    with signed_in(browser, site, cast.clinic_staff) as tab:
        client = cast.client.pk
        tab.goto(f"{site}/workspace/clients/{client}/screen/")
        tab.get_by_role("button", name="Save and see the result").click()
        tab.get_by_text("nothing was saved").wait_for()
        problems += [f"empty screening: {p}" for p in axe_violations(tab, "screening")]
        tab.goto(f"{site}/workspace/clients/new/")
        add = tab.get_by_role("button", name="Add client")
        add.evaluate("button => { button.form.noValidate = true }")  # the server's errors
        add.click()
        tab.get_by_text("nothing was saved").wait_for()
        problems += [f"empty new client: {p}" for p in axe_violations(tab, "client-new")]
        tab.goto(
            f"{site}/workspace/referrals/new/?service={cast.food.pk}&service={cast.housing.pk}"
            f"&client={client}"
        )
        tab.get_by_role("radio", name="Verbal, attested by me").check()
        tab.get_by_role("button", name="Send 2 referrals").click()
        tab.get_by_role("heading", name="Nothing was sent").wait_for()
        problems += [f"send refused: {p}" for p in axe_violations(tab, "send")]
        screenshot(tab, "send-refused")
    assert not problems, "axe-core (wcag2a, wcag2aa) found:\n" + "\n".join(problems)


@pytest.mark.django_db(transaction=True)
def test_the_footer_language_switcher_turns_the_page_into_spanish(page, site, cast):
    page.goto(f"{site}/accounts/login/")
    assert page.get_attribute("html", "lang") == "en"
    footer = page.get_by_role("contentinfo")
    footer.get_by_label("Language").select_option("es")
    footer.get_by_role("button").click()
    page.wait_for_selector("html[lang='es']", state="attached")
    assert page.url.endswith("/accounts/login/")  # back on the same page
    screenshot(page, "login-in-spanish")
