"""The form renderer: the widgets every form draws most (inputs, checkboxes, ``ListSelect``)
written in Python, the same HTML as their Django templates, and every other template rendered
as Django renders it.

A widget drawn by its template costs a template render and an include for its attributes
(about 0.2 ms each; a page of filters draws five or six). The writers below follow the
templates' rules exactly: a value goes through ``stringformat:'s'`` and is escaped unless it is
already HTML, an attribute that is ``False`` is left out and one that is ``True`` is written
bare, the result is stripped. Anything a writer does not expect (a value a template would
call, a tuple, a label that is not text) is drawn by the template instead.
``tests/cms/test_form_renderer.py`` compares each writer with its template.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.safestring import SafeData

# Django's widget templates that are nothing but an include of ``input.html``.
INPUT_TEMPLATES = frozenset(
    f"django/forms/widgets/{name}.html"
    for name in (
        "checkbox",
        "color",
        "date",
        "datetime",
        "email",
        "hidden",
        "input",
        "number",
        "password",
        "search",
        "tel",
        "text",
        "time",
        "url",
    )
)
SELECT_TEMPLATE = "cms/widgets/select.html"  # cms.widgets.ListSelect


class _Unexpected(Exception):
    """A value the writers leave to the template."""


class WidgetRenderer(DjangoTemplates):
    """Django's template renderer, with the commonest widgets written in Python."""

    def render(
        self, template_name: str, context: Mapping[str, Any], request: HttpRequest | None = None
    ) -> str:
        write = _WRITERS.get(template_name)
        if write is not None:
            try:
                return write(context["widget"]).strip()
            except (_Unexpected, KeyError):  # KeyError: a widget whose context lacks a key
                pass
        return super().render(template_name, context, request)  # type: ignore[arg-type]


def _formatted(value: Any) -> str:
    """``{{ value|stringformat:'s' }}``: the value as text, escaped unless it is HTML."""
    if callable(value) or isinstance(value, tuple):  # a template calls it / "%s" refuses it
        raise _Unexpected
    text = "%s" % (value,)  # noqa: UP031 - what the filter does
    return text if isinstance(value, SafeData) else html.escape(text)


def _text(value: Any) -> str:
    """``{{ value }}`` of a text (a label, a name): escaped unless it is HTML."""
    if isinstance(value, SafeData):
        return str(value)
    if not isinstance(value, str | Promise):  # a number or a date would be localized
        raise _Unexpected
    return html.escape(str(value))


def _attrs(widget: Mapping[str, Any]) -> str:
    """``django/forms/widgets/attrs.html``."""
    written = []
    for name, value in widget["attrs"].items():
        if value is False:
            continue
        if value is True:
            written.append(f" {_text(name)}")
        else:
            written.append(f' {_text(name)}="{_formatted(value)}"')
    return "".join(written)


def _input(widget: Mapping[str, Any]) -> str:
    """``django/forms/widgets/input.html`` (and the templates that only include it)."""
    value = widget["value"]
    shown = "" if value is None else f' value="{_formatted(value)}"'
    kind, name = _text(widget["type"]), _text(widget["name"])
    return f'<input type="{kind}" name="{name}"{shown}{_attrs(widget)}>'


def _select(widget: Mapping[str, Any]) -> str:
    """``cms/widgets/select.html``: options with their value, label and selection only."""
    written = [f'<select name="{_text(widget["name"])}"{_attrs(widget)}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            written.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in group_choices:
            selected = " selected" if option["selected"] else ""
            written.append(
                f'\n  <option value="{_formatted(option["value"])}"{selected}>'
                f"{_text(option['label'])}</option>"
            )
        if group_name:
            written.append("\n  </optgroup>")
    written.append("\n</select>")
    return "".join(written)


_WRITERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    **dict.fromkeys(INPUT_TEMPLATES, _input),
    SELECT_TEMPLATE: _select,
}
