"""The Wagtail admin keeps working under the Content-Security-Policy, which allows no inline
script there either: a network admin signs in with a second factor, opens the admin's main
screens and a page editor, and on the agreement form uses what Wagtail would start with inline
scripts (cms.wagtail_csp): a date picker, the signatories' inline panel (a new signatory and its
date picker) and the document chooser. The CSP watch (conftest) fails on any violation."""

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
        policy = response.headers.get("content-security-policy") or ""
        script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
        assert "unsafe" not in script_src, (name, script_src)
        page.wait_for_load_state("load")
        # Wagtail's scripts ran: its sidebar is drawn by JavaScript.
        page.wait_for_selector("#wagtail-sidebar:not(.sidebar-loading)", state="attached")
        screenshot(page, name)

    # The agreement form: each widget Wagtail starts with an inline script works.
    page.goto(site + screens["admin-agreement-form"])
    page.click("#id_effective_from")
    page.wait_for_selector(".xdsoft_datetimepicker .xdsoft_calendar", state="visible")
    page.keyboard.press("Escape")
    page.click("#id_signatories-ADD")
    page.wait_for_selector("#id_signatories-0-name", state="visible")
    page.click("#id_signatories-0-signed_on")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.xdsoft_datetimepicker')]"
        ".filter(p => p.offsetParent !== null).length > 0"
    )
    page.click("#id_document-chooser button.chooser__choose-button[data-chooser-action-choose]")
    page.wait_for_selector(".modal-dialog", state="visible")
    screenshot(page, "admin-agreement-widgets")
