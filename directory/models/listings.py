"""What agencies keep current outside page revisions: capacity, verification, who edits a
listing, and the changes they suggest."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.models import Page

from .agencies import AgencyPage
from .services import ServicePage


class CapacityStatus(models.TextChoices):
    ACCEPTING = "accepting", _("Accepting clients")
    WAITLIST = "waitlist", _("Waitlist")
    NOT_ACCEPTING = "not-accepting", _("Not accepting clients")


class ServiceCapacity(models.Model):
    """Today's capacity of a service, changed by its agency in one click (no revision)."""

    service = models.OneToOneField(ServicePage, on_delete=models.CASCADE, related_name="capacity")
    status = models.CharField(
        max_length=16, choices=CapacityStatus.choices, default=CapacityStatus.ACCEPTING
    )
    note = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name_plural = _("service capacities")

    def __str__(self) -> str:
        return f"{self.service} — {self.get_status_display()}"


class ListingVerification(models.Model):
    """When an agency last confirmed a listing (agency or service page) is current."""

    page = models.OneToOneField(Page, on_delete=models.CASCADE, related_name="verification")
    last_verified_at = models.DateTimeField(null=True, blank=True, db_index=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.page} verified {self.last_verified_at or 'never'}"


class ListingEditorGroup(models.Model):
    """The Wagtail group whose members (the agency's admins) may edit one agency's listing.

    They can change the listing and submit it for review, not publish it: network admins approve.
    """

    page = models.OneToOneField(AgencyPage, on_delete=models.CASCADE, related_name="editor_group")
    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="listing")

    def __str__(self) -> str:
        return str(self.group)


class ListingField(models.TextChoices):
    """The part of a listing a suggestion is about (optional; "other" when unsure)."""

    NAME = "name", _("Name")
    DESCRIPTION = "description", _("Description")
    CONTACT = "contact", _("Phone, email or website")
    LOCATION = "location", _("Address or location")
    HOURS = "hours", _("Opening hours")
    ELIGIBILITY = "eligibility", _("Who can get the service")
    FEES = "fees", _("Fees")
    LANGUAGES = "languages", _("Languages")
    APPLICATION = "application", _("How to apply")
    OTHER = "other", _("Something else")


class SuggestionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    APPLIED = "applied", _("Applied")
    DISMISSED = "dismissed", _("Dismissed")


class ListingSuggestion(models.Model):
    """A change an agency asks network admins to make to one of its listing pages.

    Agency staff cannot publish; they say what is wrong and an admin edits the page (moderated)
    and marks the suggestion applied, or dismisses it.
    """

    page = models.ForeignKey(
        Page, on_delete=models.CASCADE, related_name="suggestions", verbose_name=_("listing page")
    )
    network = models.ForeignKey(
        "network.Network", on_delete=models.CASCADE, related_name="listing_suggestions"
    )
    organization = models.ForeignKey(
        "network.Organization",
        on_delete=models.CASCADE,
        related_name="listing_suggestions",
        verbose_name=_("agency"),
    )
    suggested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("suggested by"),
    )
    field_name = models.CharField(
        _("part of the listing"), max_length=20, choices=ListingField.choices, blank=True
    )
    text = models.TextField(_("what should change"))
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=SuggestionStatus.choices,
        default=SuggestionStatus.OPEN,
        db_index=True,
    )
    created_at = models.DateTimeField(_("suggested at"), auto_now_add=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["network", "status", "created_at"])]
        verbose_name = _("listing suggestion")

    def __str__(self) -> str:
        return f"{self.page.title}: {self.text[:60]}"
