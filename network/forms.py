from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Membership, Organization, Role


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
