"""What the browser tests' page walks share: a world with something on every page, a signed-in
browser context per person (in a chosen language and size), axe-core, and the sideways-overflow
check with the element to blame."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from consent import services as consent_services
from network.models import User
from referrals.models import Referral
from referrals.services.clients import screening_record
from referrals.services.sending import referral_send
from tests.e2e.cast import Cast, log_in

BLOCKING = {"serious", "critical"}


def axe_script() -> Path:
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        pytest.fail("axe-core comes with the dev extra: pip install axe-playwright-python")
    return Path(spec.origin).with_name("axe.min.js")


def referrals_sent(cast: Cast) -> dict[str, Referral]:
    """The client was screened, consented and was referred to both agencies (so every page has
    something to show: the screening result, the tracker, the inbox, both sides of a referral);
    the food agency's answer is overdue."""
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
            idempotency_key=f"walk-{name}",
        )
        for name, service, category in (
            ("food", cast.food, "food-insecurity"),
            ("housing", cast.housing, "housing-instability"),
        )
    }
    Referral.objects.filter(pk=sent["food"].pk).update(response_due_at=now - timedelta(hours=1))
    return sent


@contextmanager
def signed_in(  # type: ignore[no-untyped-def]
    browser, site: str, user: User | None, *, language: str = "en", **options
) -> Iterator:
    """A fresh browser context in ``language`` (the cookie the footer's switcher sets), signed
    in through the form unless ``user`` is None."""
    context = browser.new_context(**options)
    context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": site + "/"}]
    )
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


def axe_violations(tab) -> list[str]:  # type: ignore[no-untyped-def]
    """The serious and critical WCAG 2 A/AA violations axe-core finds on the open page."""
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


# The elements that reach past the window's right edge and are not inside a box that clips or
# scrolls them (those scroll in their own box and do not widen the page), widest first; of an
# element and its overflowing descendants only the outermost is named.
OVERFLOWING = """() => {
  const limit = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className.trim()
       ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const over = [...document.querySelectorAll("body *")].filter((el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.right > limit + 1 && !clipped(el);
  });
  const outermost = over.filter((el) => !over.includes(el.parentElement));
  return outermost
    .map((el) => ({el, right: Math.round(el.getBoundingClientRect().right)}))
    .sort((a, b) => b.right - a.right)
    .slice(0, 4)
    .map(({el, right}) => `${name(el)} (to ${right} px)`);
}"""


def sideways_overflow(tab) -> str | None:  # type: ignore[no-untyped-def]
    """Why the page scrolls sideways (how wide it is, and the widest elements), or None."""
    width, inner = tab.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if width <= inner:
        return None
    return f"{width} px wide in a {inner} px window; widest: {', '.join(tab.evaluate(OVERFLOWING))}"
