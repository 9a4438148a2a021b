from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms
from django.core.validators import FileExtensionValidator, MaxValueValidator, MinValueValidator
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cms.widgets import ListSelect
from consent.files import signed_form_type
from consent.models import ConsentMethod
from directory.categories import SDOH_CATEGORIES
from referrals.models import Client, ReferralStatus, Urgency

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


# --- the send flow and the clinic's referral tracker -----------------------------------------


class ReferralSendForm(forms.Form):
    """What the send page posts besides the services: the client, the needs, the urgency, the
    note, and how consent is given (the one on file, or one recorded now)."""

    ON_FILE = "on_file"

    client = ObjectChoiceField(
        label=_("Client"),
        queryset=Client.objects.none(),
        error_messages={
            "required": _("Choose the client."),
            "invalid_choice": _("Choose the client."),
        },
    )
    categories = forms.MultipleChoiceField(
        label=_("Needs"),
        choices=SDOH_CATEGORIES,
        error_messages={
            "required": _("Choose the needs this referral is for."),
            "invalid_choice": _("Unknown need: %(value)s."),
        },
    )
    urgency = forms.ChoiceField(
        label=_("Urgency"),
        choices=Urgency.choices,
        required=False,
        error_messages={"invalid_choice": _("Urgency is routine or urgent.")},
    )
    note = forms.CharField(
        label=_("Note to the agency"),
        max_length=5000,
        required=False,
        error_messages={"max_length": _("Keep the note under 5,000 characters.")},
    )
    consent = forms.ChoiceField(
        label=_("Consent"),
        choices=[(ON_FILE, _("The consent on file")), *ConsentMethod.choices],
        required=False,
        error_messages={"invalid_choice": _("Choose how the consent was given.")},
    )
    verbal_confirmed = forms.BooleanField(
        label=_("I read these words to the client and they agreed."), required=False
    )
    script_digest = forms.CharField(required=False, max_length=64)
    signature = forms.CharField(label=_("Client's typed signature"), max_length=200, required=False)
    signed_form = forms.FileField(
        label=_("Signed consent form (PDF or photo)"),
        required=False,
        validators=[FileExtensionValidator(["pdf", "png", "jpg", "jpeg"])],
    )
    whole_network = forms.BooleanField(
        label=_("Share with any agency of the network, not only those listed"), required=False
    )
    idempotency_key = forms.CharField(
        max_length=80,
        error_messages={"required": _("The form was incomplete; reload the page and retry.")},
    )

    def __init__(self, *args: Any, clients: QuerySet[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["client"]).queryset = clients

    @property
    def records_consent(self) -> bool:
        """Whether the form records a new consent (rather than relying on one on file)."""
        return self.cleaned_data.get("consent") in ConsentMethod.values

    def clean_urgency(self) -> str:
        return self.cleaned_data.get("urgency") or Urgency.ROUTINE

    def clean_signed_form(self) -> Any:
        upload = self.cleaned_data.get("signed_form")
        if upload is not None:
            signed_form_type(upload)  # by content and size, not by name
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("consent") == ConsentMethod.VERBAL and not data.get("verbal_confirmed"):
            self.add_error(
                "verbal_confirmed",
                _("Confirm that you read the wording to the client and that they agreed."),
            )
        return data


class ReferralTrackerForm(forms.Form):
    """The tracker's filters, all optional; a value that is not one of the choices (or no
    date) is an error shown beside its field."""

    status = forms.MultipleChoiceField(
        label=_("Status"),
        choices=ReferralStatus.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": _("“%(value)s” is not a referral status.")},
    )
    agency = ObjectChoiceField(
        label=_("Agency"),
        queryset=Organization.objects.none(),
        required=False,
        empty_label=_("Any agency"),
        error_messages={"invalid_choice": _("Choose an agency from the list.")},
    )
    category = forms.ChoiceField(
        label=_("Need"),
        choices=[("", _("Any need")), *SDOH_CATEGORIES],
        required=False,
        widget=ListSelect,
        error_messages={"invalid_choice": _("“%(value)s” is not a need.")},
    )
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)
    sent_from = PeriodDateField(
        label=_("Sent from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter the date as YYYY-MM-DD.")},
    )
    sent_to = PeriodDateField(
        label=_("Sent until"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter the date as YYYY-MM-DD.")},
    )

    def __init__(self, *args: Any, agencies: QuerySet[Organization], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["agency"]).queryset = agencies

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("sent_from"), data.get("sent_to")
        if start and end and start > end:
            self.add_error("sent_to", _("The end date must not be before the start date."))
        return data


# --- agency portal ---------------------------------------------------------------------------


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
        from directory.models import ListingField

        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["page"]).choices = pages
        cast(forms.ChoiceField, self.fields["field_name"]).choices = [
            ("", _("Not sure, or several")),
            *ListingField.choices,
        ]
