"""The Wagtail admin keeps working under the Content-Security-Policy: a network admin signs in
with a second factor and opens the admin's main screens, a page editor and a snippet form with
date pickers (Wagtail's inline scripts); the CSP watch (conftest) fails on any violation."""

from __future__ import annotations

import pytest

from tests.e2e.cast import log_in
from tests.e2e.conftest import screenshot


@pytest.mark.django_db(transaction=True)
def test_the_admin_works_under_the_policy(page, site, cast):  # type: ignore[no-untyped-def]
    log_in(page, site, cast.admin)
    home = cast.tenant.network.site.root_page_id
    screens = {
        "admin-home": "/admin/",
        "admin-pages": f"/admin/pages/{home}/",
        "admin-page-editor": f"/admin/pages/{home}/edit/",
        "admin-agreement-form": "/admin/snippets/consent/datasharingagreement/add/",
        "admin-dashboard": "/admin/dashboard/",
        "admin-account": "/admin/account/",
    }
    for name, path in screens.items():
        response = page.goto(site + path)
        assert response is not None
        assert response.status == 200, (name, response.status)
        assert "unsafe-inline" in (response.headers.get("content-security-policy") or "")
        page.wait_for_load_state("load")
        # Wagtail's scripts ran: its sidebar is drawn by JavaScript.
        page.wait_for_selector("#wagtail-sidebar:not(.sidebar-loading)", state="attached")
        screenshot(page, name)
