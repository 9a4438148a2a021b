"""The referral API's interactive docs page in a real browser, under the project's strict CSP:
Swagger UI from local static files renders the operations and can call the API (a read), with
no CSP violation (the autouse ``csp_clean`` fixture fails the test on any) and no request to
another host."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.e2e.cast import log_in
from tests.e2e.conftest import screenshot


def test_the_api_docs_render_and_try_a_read(page, site, cast):  # type: ignore[no-untyped-def]
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    log_in(page, site, cast.clinic_staff)
    page.goto(f"{site}/workspace/api/docs")
    listing = page.locator("#operations-referrals-referral_list")
    listing.wait_for()
    assert page.locator(".opblock").count() == 4
    listing.locator(".opblock-summary").click()
    page.get_by_role("button", name="Try it out").click()
    page.get_by_role("button", name="Execute").click()
    answer = page.locator(".live-responses-table tbody .response-col_status").first
    answer.wait_for()
    assert answer.inner_text().strip() == "200"
    screenshot(page, "api-docs")
    assert hosts == {urlsplit(site).netloc}, hosts
