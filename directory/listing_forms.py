"""The agency portal's form about its own listing: suggest a change to the network's admins."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from directory.models import ListingField


class ListingSuggestionForm(forms.Form):
    """Tell the network's admins what is wrong with one page of the agency's listing."""

    page = forms.TypedChoiceField(label=_("Which page"), coerce=int)
    field_name = forms.ChoiceField(label=_("Which part (optional)"), required=False)
    text = forms.CharField(
        label=_("What should change"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Say what is wrong now and what it should say instead."),
        error_messages={"required": _("Say what should change.")},
    )

    def __init__(self, *args: Any, pages: list[tuple[int, str]], **kwargs: Any) -> None:

        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["page"]).choices = pages
        cast(forms.ChoiceField, self.fields["field_name"]).choices = [
            ("", _("Not sure, or several")),
            *ListingField.choices,
        ]
