"""Accessibility of the forms refused with errors in a real browser (axe-core finds no serious
or critical WCAG 2 A/AA violation), and the footer's language switcher turns the pages into
Spanish. Every main page, in both languages and at both sizes: test_page_walk.py.

axe-core comes from the ``axe-playwright-python`` package (its bundled axe.min.js), not from a
copy in this tree.
"""

from __future__ import annotations

import pytest

from referrals.models import Referral
from tests.e2e.cast import Cast
from tests.e2e.conftest import screenshot
from tests.e2e.walk import axe_violations, referrals_sent, signed_in


@pytest.fixture
def sent(cast: Cast) -> dict[str, Referral]:
    return referrals_sent(cast)


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
        problems += [f"login refused: {p}" for p in axe_violations(tab)]
    with signed_in(browser, site, cast.clinic_staff) as tab:
        client = cast.client.pk
        tab.goto(f"{site}/workspace/clients/{client}/screen/")
        tab.get_by_role("button", name="Save and see the result").click()
        tab.get_by_text("nothing was saved").wait_for()
        problems += [f"empty screening: {p}" for p in axe_violations(tab)]
        tab.goto(f"{site}/workspace/clients/new/")
        add = tab.get_by_role("button", name="Add client")
        add.evaluate("button => { button.form.noValidate = true }")  # the server's errors
        add.click()
        tab.get_by_text("nothing was saved").wait_for()
        problems += [f"empty new client: {p}" for p in axe_violations(tab)]
        tab.goto(
            f"{site}/workspace/referrals/new/?service={cast.food.pk}&service={cast.housing.pk}"
            f"&client={client}"
        )
        tab.get_by_role("radio", name="Verbal, attested by me").check()
        tab.get_by_role("button", name="Send 2 referrals").click()
        tab.get_by_role("heading", name="Nothing was sent").wait_for()
        problems += [f"send refused: {p}" for p in axe_violations(tab)]
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
