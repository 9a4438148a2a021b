"""What may be shared, with whom: a client's consent, each agency's data-sharing agreement, and
the log of every disclosure of client data.

A referral carries client data only where both agree: the client's consent names the recipient
(or the whole network) and the referral's categories, and the recipient's active agreement lists
the field. ``disclosure.py`` applies the two; ``services.py`` writes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, FieldRowPanel
from wagtail.models import Orderable

from cms.categories import SDOH_CATEGORIES
from cms.models import AppendOnlyModel
from cms.storage import private_storage

from .files import signed_form_upload_to


class ConsentMethod(models.TextChoices):
    VERBAL = "verbal", _("Verbal, attested by the staff member")
    SIGNED_FORM = "signed_form", _("Signed form (uploaded)")
    ELECTRONIC = "electronic", _("Typed electronic signature")


class ConsentPolicy(models.TextChoices):
    HIPAA = "hipaa", _("HIPAA authorization")
    PART_2 = "part2", _("42 CFR Part 2 (no re-disclosure)")


class Consent(models.Model):
    """A client's permission to share their information for some needs with some recipients.

    Sensitive categories (interpersonal safety and any the network marks sensitive) are shared
    only with the organizations named in ``sensitive_recipients``, never network-wide.
    """

    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(
        "referrals.Client", on_delete=models.PROTECT, related_name="consents"
    )
    whole_network = models.BooleanField(
        _("any organization in the network"),
        default=False,
        help_text=_("Otherwise only the organizations listed."),
    )
    recipients = models.ManyToManyField(
        "network.Organization", blank=True, related_name="+", verbose_name=_("recipients")
    )
    categories = models.JSONField(
        _("needs covered"), default=list, help_text=_("SDOH category codes.")
    )
    sensitive_recipients = models.ManyToManyField(
        "network.Organization",
        blank=True,
        related_name="+",
        verbose_name=_("recipients of sensitive categories"),
    )
    method = models.CharField(_("how it was given"), max_length=16, choices=ConsentMethod.choices)
    attestation = models.TextField(
        _("wording read to the client"), blank=True, help_text=_("For verbal consent.")
    )
    signature = models.CharField(
        _("typed signature"), max_length=200, blank=True, help_text=_("For electronic consent.")
    )
    # Private storage, random name: served only by consent.views.signed_form_download.
    signed_form = models.FileField(
        _("signed form"),
        upload_to=signed_form_upload_to,
        storage=private_storage,
        blank=True,
        max_length=255,
    )
    signed_form_name = models.CharField(
        _("signed form's file name"),
        max_length=255,
        blank=True,
        help_text=_("As uploaded; the name it is downloaded under."),
    )
    policy = models.CharField(
        _("policy"), max_length=8, choices=ConsentPolicy.choices, default=ConsentPolicy.HIPAA
    )
    granted_at = models.DateTimeField(_("granted at"))
    expires_at = models.DateTimeField(_("expires at"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_for = models.ForeignKey(
        "network.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The clinic whose staff member recorded it."),
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_reason = models.TextField(_("reason for revoking"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-granted_at", "-pk"]
        indexes = [models.Index(fields=["client", "expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("granted_at")),
                name="consent_expires_after_granted",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_by__isnull=False),
                name="consent_revocation_has_author",
            ),
        ]

    def __str__(self) -> str:
        return f"Consent #{self.pk} ({self.client_id})"

    @property
    def part_2(self) -> bool:
        return self.policy == ConsentPolicy.PART_2

    def is_active(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        revoked = self.revoked_at is not None and self.revoked_at <= at
        return not revoked and self.granted_at <= at < self.expires_at


class ClientField(models.TextChoices):
    """The registry of client data an agreement may let an agency receive."""

    NAME = "name", _("Name")
    DATE_OF_BIRTH = "date_of_birth", _("Date of birth")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("Email")
    ADDRESS = "address", _("Address")
    PREFERRED_LANGUAGE = "preferred_language", _("Preferred language")
    CONTACT_PREFERENCES = "contact_preferences", _("Contact preferences")
    SCREENING = "screening", _("Screening answers")
    NOTE = "note", _("Referral note")


# Whoever may reach the client must also learn how, and whether they asked not to be contacted.
CONTACT_FIELDS: frozenset[str] = frozenset(
    {ClientField.PHONE, ClientField.EMAIL, ClientField.ADDRESS}
)


def agreement_fields(codes: Iterable[str]) -> list[str]:
    """The agreement's field list as stored: sorted, once each, and with the client's contact
    preferences ("do not contact") whenever a way to contact them is shared."""
    chosen = set(codes)
    if chosen & CONTACT_FIELDS:
        chosen.add(ClientField.CONTACT_PREFERENCES)
    return sorted(chosen)


class AgreementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    SUPERSEDED = "superseded", _("Superseded")
    TERMINATED = "terminated", _("Terminated")


class DataSharingAgreement(ClusterableModel):
    """What one agency may receive, and how fast it must answer: network-wide or for one clinic.

    Versions of the same scope (agency, clinic) follow each other: activating one supersedes the
    one before. A referral records the version it was sent under.
    """

    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(
        "network.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("agency"),
    )
    clinic = models.ForeignKey(
        "network.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("only for referrals from"),
        help_text=_("Leave empty for referrals from any clinic of the network."),
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AgreementStatus.choices,
        default=AgreementStatus.DRAFT,
        editable=False,
    )
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective until"), null=True, blank=True)
    fields = models.JSONField(
        _("client data the agency may receive"),
        default=list,
        blank=True,
        help_text=_("Codes from the client field registry."),
    )
    response_hours = models.PositiveSmallIntegerField(
        _("accept or reject within (business hours)"),
        default=16,
        help_text=_("Business hours: 9:00 to 17:00, Monday to Friday, network time."),
    )
    outcome_days = models.PositiveSmallIntegerField(
        _("report an outcome within (days)"), default=30
    )
    document = models.ForeignKey(
        "wagtaildocs.Document",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signed agreement"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["agency__name", "-version"]
        verbose_name = _("data-sharing agreement")
        constraints = [
            models.UniqueConstraint(
                "agency", Coalesce("clinic", 0), "version", name="agreement_version_per_scope"
            ),
            models.UniqueConstraint(
                "agency",
                Coalesce("clinic", 0),
                condition=Q(status="active"),
                name="one_active_agreement_per_scope",
            ),
            models.CheckConstraint(
                condition=Q(response_hours__gte=1, response_hours__lte=14 * 8),
                name="agreement_response_within_14_business_days",
            ),
            models.CheckConstraint(
                condition=Q(outcome_days__gte=1), name="agreement_outcome_days_positive"
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_to__gte=models.F("effective_from")),
                name="agreement_ends_after_it_starts",
            ),
        ]

    def __str__(self) -> str:
        scope = f" — {self.clinic}" if self.clinic_id else ""
        return f"{self.agency}{scope} v{self.version} ({self.get_status_display()})"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        unknown = sorted(set(self.fields or []) - set(ClientField.values))
        self.fields = agreement_fields(self.fields or [])
        if unknown:
            errors["fields"] = _("Unknown client fields: %(codes)s.") % {
                "codes": ", ".join(unknown)
            }
        agency = self.agency if self.agency_id else None
        if agency is not None:
            if not agency.receives_referrals:
                errors["agency"] = _("%(org)s does not receive referrals.") % {"org": agency}
            elif self.network_id and agency.network_id != self.network_id:
                errors["agency"] = _("The agency belongs to another network.")
        clinic = self.clinic if self.clinic_id else None
        if clinic is not None:
            if not clinic.sends_referrals:
                errors["clinic"] = _("%(org)s does not send referrals.") % {"org": clinic}
            elif agency is not None and clinic.network_id != agency.network_id:
                errors["clinic"] = _("The clinic belongs to another network.")
        if errors:
            raise ValidationError(errors)


class AgreementSignatory(Orderable):
    agreement = ParentalKey(
        DataSharingAgreement, on_delete=models.CASCADE, related_name="signatories"
    )
    name = models.CharField(_("name"), max_length=200)
    title = models.CharField(_("title"), max_length=200, blank=True)
    organization = models.CharField(_("signing for"), max_length=200)
    signed_on = models.DateField(_("signed on"))

    panels = [
        FieldRowPanel([FieldPanel("name"), FieldPanel("title")]),
        FieldRowPanel([FieldPanel("organization"), FieldPanel("signed_on")]),
    ]

    def __str__(self) -> str:
        return f"{self.name}, {self.organization}"


class AccessPurpose(models.TextChoices):
    """Why the client's data was on someone's screen (``AccessLog.purpose``)."""

    VIEW = "view", _("Referral page")
    PRINT = "print", _("Printed referral")
    INBOX = "inbox", _("Agency inbox")
    API = "api", _("Referral API")
    FHIR = "fhir", _("FHIR API (an EHR's system)")
    CLIENT_LIST = "client_list", _("Client list")
    CLIENT = "client", _("Client page")
    SCREENING = "screening", _("Screening")
    CONSENT = "consent", _("Consent form")
    TRACKER = "tracker", _("Referral tracker")
    DISCLOSURES = "disclosures", _("Accounting of disclosures")
    AUDIT = "audit", _("Access log")


class AccessLog(AppendOnlyModel):
    """One view of client data: who saw which fields of which client, when, from where, why.

    Rows of another organization than the client's clinic are disclosures: the clinic prints
    them as the client's accounting of disclosures. The clinic's own reads are logged too (for
    the network's audit page), and so are the network admins' reads of that page (no
    organization). Append-only, in the database too (``cms.append_only``).
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    # None: the network's administration (its admins reading the access log itself).
    organization = models.ForeignKey(
        "network.Organization", on_delete=models.PROTECT, null=True, related_name="+"
    )
    client = models.ForeignKey(
        "referrals.Client", on_delete=models.PROTECT, related_name="access_log"
    )
    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.PROTECT, null=True, related_name="access_log"
    )
    fields = models.JSONField(default=list)
    purpose = models.CharField(max_length=40)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["client", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.organization_id} → client {self.client_id}"


SDOH_CODES: frozenset[str] = frozenset(code for code, _name in SDOH_CATEGORIES)
