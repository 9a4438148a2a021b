"""The site's additions to every Wagtail admin page."""

from __future__ import annotations

from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString
from wagtail import hooks


@hooks.register("insert_global_admin_js")
def admin_start_script() -> SafeString:
    """Starts the widgets Wagtail would start with inline scripts (``cms.wagtail_csp``)."""
    return format_html('<script src="{}"></script>', static("js/admin-start.js"))
