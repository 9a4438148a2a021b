"""The form renderer's widgets written in Python (cms.form_renderer) against their templates:
the same HTML for every kind of value and attribute, and the template where a writer does not
know a value."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from django import forms
from django.conf import settings
from django.forms.renderers import DjangoTemplates
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy, override

from cms.form_renderer import INPUT_TEMPLATES, SELECT_TEMPLATE, WidgetRenderer
from cms.widgets import ListSelect

ATTRS: list[dict[str, Any]] = [
    {},
    {"required": True, "disabled": False, "maxlength": 100, "id": "id_x"},
    {"placeholder": gettext_lazy("Search"), "aria-describedby": "a b", "data-x": "q\"<&>'"},
    {"class": SafeString("<kept>"), "min": 0, "step": 0.5, "data-none": None},
]
VALUES: list[Any] = [
    None,
    "",
    "plain",
    "a<b> & \"c\" 'd'",
    0,
    12345,
    SafeString("<b>safe</b>"),
    gettext_lazy("Overdue only"),
    date(2026, 1, 2),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    time(13, 5),
]
INPUTS = [
    forms.TextInput,
    forms.NumberInput,
    forms.EmailInput,
    forms.URLInput,
    forms.PasswordInput,
    forms.HiddenInput,
    forms.DateInput,
    forms.DateTimeInput,
    forms.TimeInput,
    forms.SearchInput,
    forms.TelInput,
    forms.ColorInput,
    forms.CheckboxInput,
]


def _both(widget: forms.Widget, value: Any, attrs: dict[str, Any]) -> tuple[str, str]:
    """The widget drawn by Django's templates, then by the writers (no template allowed)."""
    expected = widget.render("field", value, attrs=attrs, renderer=DjangoTemplates())
    written = WidgetRenderer()

    def no_template(name: str) -> Any:
        raise AssertionError(f"{name} was drawn by its template")

    written.get_template = no_template  # type: ignore[method-assign]
    return expected, widget.render("field", value, attrs=attrs, renderer=written)


def test_the_product_draws_its_forms_with_it():
    assert settings.FORM_RENDERER == "cms.form_renderer.WidgetRenderer"


@pytest.mark.parametrize("widget_class", INPUTS, ids=lambda kind: kind.__name__)
@pytest.mark.parametrize("language", ["en", "es"])
def test_every_input_is_what_its_template_writes(widget_class, language):
    assert widget_class.template_name in INPUT_TEMPLATES
    with override(language):
        for attrs in ATTRS:
            for value in VALUES:
                widget = widget_class(attrs={"type": "date"} if value == date(2026, 1, 2) else {})
                expected, written = _both(widget, value, attrs)
                assert written == expected, (value, attrs)


def test_a_password_is_not_written_back_either_way():
    expected, written = _both(forms.PasswordInput(), "secret", {})
    assert written == expected == '<input type="password" name="field">'


CHOICES: list[Any] = [
    ("", gettext_lazy("Any need")),
    ("food", "Food & <drink>"),
    (7, SafeString("<i>seven</i>")),
    (
        gettext_lazy("Housing"),
        [("shelter", 'Shelter "now"'), ("rent", gettext_lazy("Rent"))],
    ),
    ("last", "Last"),
]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("value", [None, "", "food", 7, "7", "rent", "not-offered"])
def test_a_list_select_is_what_its_template_writes(language, value):
    assert ListSelect.template_name == SELECT_TEMPLATE
    with override(language):
        for attrs in ATTRS:
            expected, written = _both(ListSelect(choices=CHOICES), value, attrs)
            assert written == expected, (value, attrs)
            assert "\n</select>" in written


def test_a_multiple_list_select_marks_each_choice():
    widget = ListSelect(choices=CHOICES)
    widget.allow_multiple_selected = True
    expected, written = _both(widget, ["food", "rent"], {"multiple": True})
    assert written == expected
    assert written.count(" selected") == 2


@pytest.mark.parametrize(
    ("widget", "value", "attrs"),
    [
        (forms.TextInput(), "x", {"data-called": lambda: "called"}),  # a template calls it
        (forms.TextInput(), "x", {"data-pair": (1, 2)}),  # stringformat writes "" for a tuple
        (ListSelect(choices=[(1, 1), (2, 2)]), 1, {}),  # a number label would be localized
        (ListSelect(choices=[("d", date(2026, 1, 2))]), "d", {}),
    ],
    ids=["callable", "tuple", "number-label", "date-label"],
)
def test_what_a_writer_does_not_know_is_drawn_by_the_template(widget, value, attrs):
    expected = widget.render("field", value, attrs=attrs, renderer=DjangoTemplates())
    assert widget.render("field", value, attrs=attrs, renderer=WidgetRenderer()) == expected


def test_a_widget_context_without_a_key_is_drawn_by_the_template():
    class Typeless(forms.TextInput):
        def get_context(self, name: str, value: Any, attrs: Any) -> dict[str, Any]:
            context = super().get_context(name, value, attrs)
            del context["widget"]["type"]
            return context

    expected = Typeless().render("field", "x", renderer=DjangoTemplates())
    assert Typeless().render("field", "x", renderer=WidgetRenderer()) == expected


def test_other_templates_are_djangos():
    form = forms.Form()
    assert str(form.render(renderer=WidgetRenderer())) == str(
        form.render(renderer=DjangoTemplates())
    )
