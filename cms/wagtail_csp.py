"""The Wagtail admin without inline scripts, so that its Content-Security-Policy is the
workspace's ``script-src 'self'``.

Wagtail 8 still writes a few inline ``<script>`` elements: its date and time inputs, inline
panels (templates, overridden in ``cms/templates/wagtailadmin/``) and every chooser widget
(``BaseChooser.render`` appends ``<script>new SnippetChooser(id, options)</script>``). Each is
replaced by a hidden marker naming what to start, which ``cms/static/js/admin-start.js`` (loaded
on every admin page by ``cms.wagtail_hooks``) starts."""

from __future__ import annotations

import json
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from wagtail.admin.widgets.chooser import BaseChooser

_wagtail_render = BaseChooser.render


def chooser_render(
    self: BaseChooser,
    name: str,
    value: Any,
    attrs: dict[str, Any] | None = None,
    renderer: Any = None,
) -> SafeString:
    """``BaseChooser.render`` with a marker where Wagtail writes its inline script. A chooser
    whose start is not Wagtail's usual ``new <js_constructor>(id, options)`` keeps Wagtail's
    rendering."""
    if (
        type(self).render_js_init is not BaseChooser.render_js_init
        or not attrs
        or "id" not in attrs
    ):
        return _wagtail_render(self, name, value, attrs, renderer)
    id_ = attrs["id"]
    value_data = self.get_value_data(value)
    widget_html = self.render_html(name, value_data, attrs)
    marker = format_html(
        '<span hidden data-handoff-new="{}" data-handoff-id="{}" data-handoff-options="{}"></span>',
        self.js_constructor,
        id_,
        json.dumps(self.get_js_init_options(id_, name, value_data)),
    )
    return mark_safe(f"{widget_html}{marker}")  # noqa: S308 - both parts are escaped HTML


def install() -> None:
    BaseChooser.render = chooser_render
