from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.translation import gettext_lazy as _

from cms.widgets import ListSelect

from .models import Membership, Organization, Role

# The dates a period filter accepts: the calendar's ends cannot be added to or counted back from.
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)


class PeriodDateField(forms.DateField):
    """A date that bounds a period (filters, reports): refused outside 1900 to 2999, where adding
    or subtracting days would leave the calendar."""

    def __init__(self, **kwargs: Any) -> None:
        message = _("Choose a date between 1900-01-01 and 2999-12-31.")
        kwargs.setdefault("validators", []).extend(
            [MinValueValidator(EARLIEST_DATE, message), MaxValueValidator(LATEST_DATE, message)]
        )
        super().__init__(**kwargs)


class ObjectChoiceField(forms.ModelChoiceField):
    """A choice among objects whose id too large for the database is simply not a choice
    (SQLite raises OverflowError on it, which Django's field does not catch)."""

    widget = ListSelect

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except OverflowError:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


class ObjectMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Several objects; an id too large for the database is an invalid choice."""

    def _check_values(self, value: Any) -> Any:
        try:
            return super()._check_values(value)  # type: ignore[misc]
        except OverflowError:
            raise forms.ValidationError(
                self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": "…"}
            ) from None


class MemberAddForm(forms.Form):
    """Add a person to an organization by email; the roles offered fit the organization's kind."""

    email = forms.EmailField(label=_("Email"))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    role = forms.ChoiceField(label=_("Role"))

    def __init__(self, *args: Any, organization: Organization, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = Membership.ROLES_FOR_KIND[organization.kind]
        role_field = cast(forms.ChoiceField, self.fields["role"])
        role_field.choices = [(value, label) for value, label in Role.choices if value in allowed]
