"""Forms of the clinic workspace: a new client, a screening, a consent and its revocation.

They check what a person can get wrong on the page; the services check the rules again and
have the last word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, time
from typing import Any, cast

from django import forms
from django.core.validators import FileExtensionValidator
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cms.categories import NEED_CHOICES, NEED_LABELS, need_label
from cms.widgets import ListSelect
from consent.files import signed_form_type
from consent.models import ConsentMethod, ConsentPolicy
from consent.wording import script_language, script_languages, verbal_consent_script
from network.forms import ObjectChoiceField, ObjectMultipleChoiceField, PeriodDateField
from network.models import Organization
from referrals.models import Client, ReferralStatus, Urgency
from referrals.screening import NONE_OF_THE_ABOVE, QUESTIONS

CATEGORY_NAMES: Mapping[str, Promise] = NEED_LABELS
SIGNED_FORM_EXTENSIONS = ["pdf", "jpg", "jpeg", "png"]


class ClientForm(forms.ModelForm):
    """A new client; ``confirm_new`` is offered once similar clients were found."""

    confirm_new = forms.BooleanField(
        label=_("This is a new person, not one of the clients listed above"), required=False
    )

    class Meta:
        model = Client
        fields = [
            "first_name",
            "last_name",
            "date_of_birth",
            "external_id",
            "phone",
            "email",
            "address_1",
            "city",
            "state",
            "postal_code",
            "preferred_language",
            "contact_preference",
            "contact_notes",
            "do_not_contact",
        ]
        widgets = {
            "date_of_birth": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "phone": forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        }

    def __init__(self, *args: Any, clients: QuerySet[Client], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clients = clients
        for name in ("first_name", "last_name", "date_of_birth"):
            self.fields[name].widget.attrs["autocomplete"] = "off"

    def clean_date_of_birth(self) -> Any:
        born = self.cleaned_data["date_of_birth"]
        if born > timezone.localdate():
            raise forms.ValidationError(_("The date of birth is in the future."))
        if born.year < 1900:
            raise forms.ValidationError(_("Check the year of birth."))
        return born

    def clean_external_id(self) -> str:
        # The database would refuse it too, but only after the form was sent.
        external_id = str(self.cleaned_data.get("external_id") or "").strip()
        if external_id and self.clients.filter(external_id=external_id).exists():
            raise forms.ValidationError(
                _("Another client of this clinic has this medical record number.")
            )
        return external_id

    def client_details(self) -> dict[str, Any]:
        """Keyword arguments for ``services.client_create``."""
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


def question_field_name(code: str) -> str:
    return f"q_{code.replace('-', '_')}"


class ScreeningForm(forms.Form):
    """The AHC HRSN questions on one page: one radio group (or checkboxes) per question."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code, question in QUESTIONS.items():
            field: forms.Field
            if question.multiple:
                field = forms.MultipleChoiceField(
                    label=question.text,
                    choices=question.answers,
                    required=False,
                    widget=forms.CheckboxSelectMultiple,
                )
            else:
                field = forms.ChoiceField(
                    label=question.text,
                    choices=[("", _("Not answered")), *question.answers],
                    required=False,
                    initial="",
                    widget=forms.RadioSelect,
                )
            field.question_code = code  # type: ignore[attr-defined]
            self.fields[question_field_name(code)] = field

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for code, question in QUESTIONS.items():
            chosen = cleaned.get(question_field_name(code)) or []
            if question.multiple and NONE_OF_THE_ABOVE in chosen and len(chosen) > 1:
                self.add_error(
                    question_field_name(code),
                    _("“None of these” cannot be combined with other answers."),
                )
        if not self.answers():
            raise forms.ValidationError(
                _("Answer at least one question, or come back when the client is ready.")
            )
        return cleaned

    def answers(self) -> dict[str, str | list[str]]:
        """Question code -> answer code(s), unanswered questions left out."""
        found: dict[str, str | list[str]] = {}
        for code in QUESTIONS:
            value = self.cleaned_data.get(question_field_name(code))
            if value:
                found[code] = list(value) if isinstance(value, list | tuple) else str(value)
        return found


class ConsentScope:
    NETWORK = "network"
    CHOSEN = "chosen"


def consent_script(
    *,
    clinic: Organization,
    recipients: Iterable[Organization],
    categories: Iterable[str],
    language: str | None = None,
) -> str:
    """The verbal consent wording for these choices (``recipients`` empty: the whole network),
    needs in the code system's order, recipients by name, in ``language``."""
    chosen = set(categories)
    return verbal_consent_script(
        clinic=clinic.name,
        recipients=sorted(r.name for r in recipients),
        needs=[code for code, _name in NEED_CHOICES if code in chosen],
        language=language,
    )


class ConsentForm(forms.Form):
    """A client's consent: who may receive, for which needs, how it was given."""

    scope = forms.ChoiceField(
        label=_("Who may receive the information"),
        choices=[
            (ConsentScope.NETWORK, _("Any agency in the network")),
            (ConsentScope.CHOSEN, _("Only the agencies chosen below")),
        ],
        initial=ConsentScope.NETWORK,
        widget=forms.RadioSelect,
    )
    recipients = ObjectMultipleChoiceField(
        label=_("Agencies"),
        queryset=Organization.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    categories = forms.MultipleChoiceField(
        label=_("Needs the consent covers"),
        choices=NEED_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one need the consent covers.")},
    )
    sensitive_recipients = ObjectMultipleChoiceField(
        label=_("Agencies that may receive sensitive needs (safety, abuse)"),
        queryset=Organization.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Sensitive needs are never shared network-wide; name each agency."),
    )
    method = forms.ChoiceField(
        label=_("How the client gave consent"),
        choices=ConsentMethod.choices,
        initial=ConsentMethod.VERBAL,
        widget=forms.RadioSelect,
    )
    script_language = forms.ChoiceField(
        label=_("Read the wording in"),
        choices=[],
        required=False,
        widget=forms.RadioSelect,
    )
    script_shown = forms.CharField(required=False, widget=forms.HiddenInput)
    attested = forms.BooleanField(
        label=_("I read this wording to the client and they agreed"), required=False
    )
    signature = forms.CharField(
        label=_("Client's typed signature (their full name)"), max_length=200, required=False
    )
    signed_form = forms.FileField(
        label=_("Signed consent form (PDF or photo)"),
        required=False,
        validators=[FileExtensionValidator(SIGNED_FORM_EXTENSIONS)],
    )
    policy = forms.ChoiceField(
        label=_("Policy"),
        choices=ConsentPolicy.choices,
        initial=ConsentPolicy.HIPAA,
        widget=forms.RadioSelect,
    )
    expires_on = forms.DateField(
        label=_("Ends on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Leave empty for the network's usual length."),
    )

    def __init__(
        self,
        *args: Any,
        clinic: Organization,
        agencies: QuerySet[Organization],
        client_language: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.agencies = agencies
        self.client_language = client_language
        for name in ("recipients", "sensitive_recipients"):
            cast(forms.ModelMultipleChoiceField, self.fields[name]).queryset = agencies
        language = cast(forms.ChoiceField, self.fields["script_language"])
        language.choices = script_languages()
        language.initial = self.language()

    def language(self) -> str:
        """The language of the wording: chosen on the page, else the client's."""
        values = self.data if self.is_bound else self.initial
        chosen = values.get("script_language")
        return script_language(preferred=self.client_language, chosen=str(chosen or ""))

    @classmethod
    def initial_from(cls, data: Mapping[str, Any]) -> dict[str, Any]:
        """Initial values from a query string or a form sent to preview the wording: the
        choices kept, the attestation cleared (the wording may have changed)."""
        initial: dict[str, Any] = {}
        getlist = getattr(data, "getlist", None)
        for name, field in cls.base_fields.items():
            if name in data and name not in {"attested", "script_shown", "signed_form"}:
                many = isinstance(field, forms.MultipleChoiceField | forms.ModelMultipleChoiceField)
                initial[name] = getlist(name) if many and getlist else data[name]
        return initial

    def script(self) -> str:
        """The wording for the choices on the page now, read leniently so that a half-filled
        form still shows what would be read."""
        values = self.data if self.is_bound else self.initial
        getlist = getattr(values, "getlist", None)

        def listed(name: str) -> list[str]:
            raw = getlist(name) if getlist else values.get(name) or []
            return [str(v) for v in raw]

        recipients: list[Organization] = []
        if values.get("scope") == ConsentScope.CHOSEN:
            ids = [int(v) for v in listed("recipients") if v.isdigit()]
            recipients = list(self.agencies.filter(pk__in=ids)) if ids else []
        return consent_script(
            clinic=self.clinic,
            recipients=recipients,
            categories=listed("categories"),
            language=self.language(),
        )

    def clean_signed_form(self) -> Any:
        upload = self.cleaned_data.get("signed_form")
        if upload is not None:
            signed_form_type(upload)  # by content and size, not by name
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        scope = cleaned.get("scope")
        recipients = list(cleaned.get("recipients") or [])
        sensitive = list(cleaned.get("sensitive_recipients") or [])
        if scope == ConsentScope.CHOSEN:
            if not recipients:
                self.add_error("recipients", _("Choose the agencies, or allow the whole network."))
            missing = [org.name for org in sensitive if org not in recipients]
            if missing:
                self.add_error(
                    "sensitive_recipients",
                    _("Also choose %(names)s as a recipient above.")
                    % {"names": ", ".join(missing)},
                )
        sensitive_needs = self.clinic.network.sensitive_category_codes().intersection(
            cleaned.get("categories") or ()
        )
        if sensitive_needs and not sensitive:
            self.add_error(
                "sensitive_recipients",
                _("Name the agencies that may receive sensitive needs (%(needs)s).")
                % {"needs": ", ".join(need_label(c) for c in sorted(sensitive_needs))},
            )
        method = cleaned.get("method")
        if method == ConsentMethod.VERBAL and "categories" in cleaned:
            wording = consent_script(
                clinic=self.clinic,
                recipients=recipients if scope == ConsentScope.CHOSEN else [],
                categories=cleaned["categories"],
                language=self.language(),
            )
            if not cleaned.get("attested"):
                self.add_error("attested", _("Confirm that you read the wording to the client."))
            elif cleaned.get("script_shown") != wording:
                self.add_error(
                    "attested",
                    _(
                        "The choices changed after the wording was shown. Read the new wording "
                        "to the client, then confirm again."
                    ),
                )
            cleaned["attestation"] = wording
        return cleaned

    def consent_arguments(self) -> dict[str, Any]:
        """Keyword arguments for ``consent.services.consent_record`` (with client, by and
        organization added by the caller)."""
        data = self.cleaned_data
        whole_network = data["scope"] == ConsentScope.NETWORK
        expires_on = data.get("expires_on")
        return {
            "categories": data["categories"],
            "method": data["method"],
            "whole_network": whole_network,
            "recipients": [] if whole_network else list(data["recipients"]),
            "sensitive_recipients": list(data["sensitive_recipients"]),
            "attestation": data.get("attestation", ""),
            "signature": data.get("signature", ""),
            "signed_form": data.get("signed_form"),
            "policy": data["policy"],
            # The end of the chosen day in the active time zone.
            "expires_at": timezone.make_aware(datetime.combine(expires_on, time.max))
            if expires_on
            else None,
        }


class ConsentRevokeForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for revoking"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Give the reason for revoking.")},
    )


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
        choices=NEED_CHOICES,
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
        choices=[("", _("Any need")), *NEED_CHOICES],
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
