"""Real-browser tests: Playwright drives the machine's Chromium (Debian package ``chromium``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Every page reports its Content-Security-Policy violations to the console, where the browser
# also writes its own "Refused to …" errors; any of them fails the test (csp_clean).
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} refused ${event.blockedURI || "inline"}`
    + ` at ${event.sourceFile || location.href}:${event.lineNumber}`);
});
"""
CSP_VIOLATIONS: list[str] = []


def csp_watch(context) -> None:  # type: ignore[no-untyped-def]
    """Collect the CSP violations of every page of ``context`` into CSP_VIOLATIONS."""

    def note(message) -> None:  # type: ignore[no-untyped-def]
        text = message.text
        if "CSP violation" in text or "Content Security Policy" in text:
            CSP_VIOLATIONS.append(f"{message.page.url if message.page else '?'}: {text}")

    context.add_init_script(CSP_WATCH)
    context.on("console", note)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run installs the chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium): no browser to test")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running while the tests touch the database;
    # allowed only while the browser lives, so no later subprocess inherits the flag.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            new_context = chromium.new_context

            def watched_context(*args, **kwargs):  # type: ignore[no-untyped-def]
                context = new_context(*args, **kwargs)
                csp_watch(context)
                return context

            # Every context a test opens (its own or the page fixture's) is watched.
            chromium.new_context = watched_context  # type: ignore[method-assign]
            yield chromium
            chromium.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture(autouse=True)
def csp_clean() -> Iterator[None]:
    """Fails the browser test if any page broke the Content-Security-Policy."""
    CSP_VIOLATIONS.clear()
    yield
    violations = list(CSP_VIOLATIONS)
    CSP_VIOLATIONS.clear()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


@pytest.fixture
def wagtail_tree(transactional_db) -> None:
    """What migrations create and an earlier test's flush may have removed.

    pytest-django runs live-server tests as plain transactional tests (no serialized rollback),
    so they rebuild what they need; they run last (tests/conftest.py) for the same reason.
    """
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType
    from django.core.management.sql import emit_post_migrate_signal
    from django.db import connection
    from wagtail.models import Collection, Locale, Page

    if not ContentType.objects.exists():  # a serialized-rollback test's flush left none
        ContentType.objects.clear_cache()
        emit_post_migrate_signal(verbosity=0, interactive=False, db=connection.alias)
    Locale.objects.get_or_create(language_code="en")
    if Page.get_first_root_node() is None:
        Page.add_root(title="Root", slug="root")
    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")
    categories = import_module("directory.migrations.0002_sdoh_categories")
    with connection.schema_editor() as editor:
        categories.load(apps, editor)


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    yield tab
    context.close()


# Chromium now and then refuses a capture ("Unable to capture screenshot") while the page is
# still compositing a frame; seen once in CI on a full-page capture of a page just drawn.
CAPTURE_REFUSED = "Unable to capture screenshot"
CAPTURE_TRIES = 3


def screenshot(tab, name: str) -> Path:
    """Saves the whole page as a test artifact, asking again if Chromium refuses a capture."""
    from playwright.sync_api import Error

    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    for _ in range(CAPTURE_TRIES - 1):
        try:
            tab.screenshot(path=str(path), full_page=True)
            return path
        except Error as error:
            if CAPTURE_REFUSED not in str(error):
                raise
        # Two animation frames: the next capture waits for a frame the page has drawn.
        tab.evaluate(
            "() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))"
        )
    tab.screenshot(path=str(path), full_page=True)  # the last try's refusal fails the test
    return path


@pytest.fixture
def cast(live_server, wagtail_tree, tenant_a):  # type: ignore[no-untyped-def]
    """The loop's people and directory on a live server (``tests.e2e.cast``)."""
    from tests.e2e.cast import cast_make

    return cast_make(tenant_a)


@pytest.fixture
def site(live_server, cast) -> str:  # type: ignore[no-untyped-def]
    """The cast's network's address on the live server (test_search has its own)."""
    port = live_server.url.rsplit(":", 1)[1]
    return f"http://{cast.tenant.network.site.hostname}:{port}"
