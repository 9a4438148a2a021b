"""The browser tests' CSP watch itself: a page that breaks its policy is noticed."""

from __future__ import annotations

from tests.e2e.conftest import CSP_VIOLATIONS


def test_a_violation_is_noticed(page):  # type: ignore[no-untyped-def]
    page.route(
        "http://csp.test/",
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Security-Policy": "script-src 'self'"},
            content_type="text/html",
            body='<p>x</p><script>document.title = "ran"</script><img src="x" onerror="1">',
        ),
    )
    page.goto("http://csp.test/")
    page.wait_for_load_state("load")
    # The console events arrive asynchronously, while Playwright waits: up to 5 s on a busy machine.
    for _ in range(100):
        if any("script-src" in violation for violation in CSP_VIOLATIONS):
            break
        page.wait_for_timeout(50)
    assert page.title() != "ran"
    noticed = list(CSP_VIOLATIONS)
    CSP_VIOLATIONS.clear()  # expected here: csp_clean must not fail this test
    assert any("script-src" in violation for violation in noticed), noticed
