"""Form widgets of the whole product."""

from __future__ import annotations

from django import forms


class ListSelect(forms.Select):
    """A plain drop-down written by one template, which the form renderer writes in Python
    (``cms.form_renderer``, the same HTML). Django's own includes a template for each option,
    which for a list of fifty agencies was a tenth of the tracker's time. Options carry only
    their value, label and selection (no per-option attributes): for selects of choices and
    objects, not for widgets that decorate their options."""

    template_name = "cms/widgets/select.html"
