"""An agency's service pages (HSDS services), where and when they are offered, and what they
cost."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    InlinePanel,
    MultiFieldPanel,
    ObjectList,
    TabbedInterface,
)
from wagtail.models import Orderable, Page
from wagtail.search import index

from network.models import Network

from ..hours import Closure, OpenStatus, WeeklyHours, open_status
from ..tenancy import page_network
from .fields import hsds_extra_field, hsds_id_field
from .locations import Location, PhoneNumber, WeeklyOpening
from .page_forms import ServicePageForm
from .taxonomy import SdohCategory, TaxonomyTerm


class ServiceStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    INACTIVE = "inactive", _("Inactive")
    DEFUNCT = "defunct", _("Defunct")
    TEMPORARILY_CLOSED = "temporarily closed", _("Temporarily closed")


class FeeType(models.TextChoices):
    FREE = "free", _("Free")
    SLIDING_SCALE = "sliding-scale", _("Sliding scale")
    FEE = "fee", _("Fee")


class ReferralMethod(models.TextChoices):
    ELECTRONIC = "electronic", _("Electronic referral")
    CONTACT_DIRECTLY = "contact-directly", _("Contact the agency directly")


class ServicePage(Page):
    """A service an agency offers (HSDS service), at one or more of its locations."""

    hsds_id = hsds_id_field()
    hsds_extra = hsds_extra_field()
    alternate_name = models.CharField(_("alternate name"), blank=True)
    description = models.TextField(_("description"))
    url = models.URLField(_("web page"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=ServiceStatus.choices, default=ServiceStatus.ACTIVE
    )
    categories = ParentalManyToManyField(
        SdohCategory, blank=True, related_name="services", verbose_name=_("SDOH categories")
    )
    service_types = ParentalManyToManyField(
        TaxonomyTerm, blank=True, related_name="services", verbose_name=_("service types")
    )
    languages = models.JSONField(
        _("languages"),
        default=list,
        blank=True,
        help_text=_("ISO 639 codes of the languages staff speak."),
    )
    interpretation_services = models.CharField(_("interpretation"), blank=True)
    eligibility_description = models.TextField(_("eligibility"), blank=True)
    minimum_age = models.PositiveSmallIntegerField(
        _("minimum age"), null=True, blank=True, validators=[MaxValueValidator(130)]
    )
    maximum_age = models.PositiveSmallIntegerField(
        _("maximum age"), null=True, blank=True, validators=[MaxValueValidator(130)]
    )
    fee_type = models.CharField(
        _("fees"), max_length=16, choices=FeeType.choices, default=FeeType.FREE
    )
    fees_description = models.TextField(_("fee details"), blank=True)
    application_process = models.TextField(_("how to apply"), blank=True)
    wait_time = models.CharField(_("wait time"), blank=True)
    referral_method = models.CharField(
        _("referrals"),
        max_length=20,
        choices=ReferralMethod.choices,
        default=ReferralMethod.ELECTRONIC,
    )
    alert = models.CharField(
        _("alert"),
        blank=True,
        help_text=_("A short temporary notice shown with the service."),
    )

    content_panels = [
        *Page.content_panels,
        FieldPanel("alternate_name"),
        FieldPanel("description"),
        FieldRowPanel([FieldPanel("status"), FieldPanel("referral_method")]),
        FieldPanel("alert"),
        FieldPanel("categories", widget=forms.CheckboxSelectMultiple),
        FieldPanel("service_types"),
        MultiFieldPanel(
            [
                FieldPanel("eligibility_description"),
                FieldRowPanel([FieldPanel("minimum_age"), FieldPanel("maximum_age")]),
            ],
            heading=_("Eligibility"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("fee_type"),
                FieldPanel("fees_description"),
                InlinePanel("cost_options", label=_("Cost options")),
            ],
            heading=_("Fees"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("application_process"),
                FieldPanel("wait_time"),
                InlinePanel("required_documents", label=_("Required documents")),
            ],
            heading=_("Applying"),
        ),
        MultiFieldPanel(
            [FieldPanel("languages"), FieldPanel("interpretation_services")], heading=_("Languages")
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("url"), FieldPanel("email")]),
                InlinePanel("phones", label=_("Phones")),
            ],
            heading=_("Contact"),
        ),
    ]
    where_panels = [
        InlinePanel("service_locations", label=_("Offered at")),
        InlinePanel("hours", label=_("Weekly hours")),
        InlinePanel("closures", label=_("Closures")),
        InlinePanel("service_areas", label=_("Service area")),
    ]
    edit_handler = TabbedInterface(
        [
            ObjectList(content_panels, heading=_("Service")),
            ObjectList(where_panels, heading=_("Where and when")),
            ObjectList(Page.promote_panels, heading=_("Promote")),
            ObjectList(Page.settings_panels, heading=_("Settings")),
        ]
    )
    parent_page_types = ["directory.AgencyPage"]
    subpage_types: list[str] = []
    base_form_class = ServicePageForm
    # Wagtail's own index serves the admin's page search; directory search has its own (search/).
    search_fields = [
        *Page.search_fields,
        index.SearchField("alternate_name"),
        index.SearchField("description"),
        index.SearchField("eligibility_description"),
        index.FilterField("status"),
        index.FilterField("fee_type"),
        index.FilterField("referral_method"),
        index.FilterField("minimum_age"),
        index.FilterField("maximum_age"),
    ]

    class Meta:
        verbose_name = _("service")

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The public listing: phones, where (confidential addresses hidden from the public),
        when (hours by weekday), what it costs, and whether it is open now."""
        from ..public_pages import service_context  # the same app: public_pages reads the models

        context = super().get_context(request, *args, **kwargs)
        context.update(service_context(page=self, request=request, network=page_network(page=self)))
        return context

    def clean(self) -> None:
        super().clean()
        if (
            self.minimum_age is not None
            and self.maximum_age is not None
            and self.minimum_age > self.maximum_age
        ):
            raise ValidationError({"maximum_age": _("The maximum age is below the minimum age.")})
        if self.fee_type != FeeType.FREE and not self.fees_description:
            raise ValidationError({"fees_description": _("Describe the fees.")})


class ServicePhone(Orderable, PhoneNumber):
    """A phone number of a service (HSDS phone with service_id)."""

    page = ParentalKey("ServicePage", on_delete=models.CASCADE, related_name="phones")


class ServiceAtLocation(Orderable):
    """A service offered at one of its agency's locations (HSDS service_at_location)."""

    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="service_locations")
    hsds_id = hsds_id_field()
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="services")
    description = models.TextField(_("description"), blank=True)

    panels = [FieldPanel("location"), FieldPanel("description")]


class ServiceHours(Orderable, WeeklyOpening):
    """A weekly opening of a service (HSDS schedule: WEEKLY, one day per row)."""

    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="hours")
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty: at every location of the service."),
    )

    panels = [
        FieldRowPanel([FieldPanel("weekday"), FieldPanel("opens_at"), FieldPanel("closes_at")]),
        FieldPanel("location"),
    ]

    class Meta(Orderable.Meta):
        verbose_name_plural = _("hours")


class ServiceClosure(Orderable):
    """Dates a service is closed (holidays, emergencies), in the network's time zone."""

    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="closures")
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to (inclusive)"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    panels = [
        FieldRowPanel([FieldPanel("start_date"), FieldPanel("end_date")]),
        FieldPanel("reason"),
    ]

    def clean(self) -> None:
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The closure ends before it starts.")})


class CostOption(Orderable):
    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="cost_options")
    hsds_id = hsds_id_field()
    option = models.CharField(_("option"), blank=True)
    amount = models.DecimalField(
        _("amount"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    amount_description = models.CharField(_("amount description"), blank=True)

    panels = [
        FieldRowPanel([FieldPanel("option"), FieldPanel("amount"), FieldPanel("currency")]),
        FieldPanel("amount_description"),
    ]


class RequiredDocument(Orderable):
    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="required_documents")
    hsds_id = hsds_id_field()
    document = models.CharField(_("document"))
    uri = models.URLField(_("link"), blank=True)


class ServiceArea(Orderable):
    """Where a service's clients must live: ZIP codes or counties (HSDS service_area)."""

    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="service_areas")
    hsds_id = hsds_id_field()
    name = models.CharField(_("name"), help_text=_("A ZIP code or county name."))
    extent_type = models.CharField(
        _("kind"),
        max_length=10,
        default="zip",
        choices=[("zip", _("ZIP code")), ("county", _("County")), ("other", _("Other"))],
    )
    description = models.CharField(_("description"), blank=True)

    panels = [FieldRowPanel([FieldPanel("name"), FieldPanel("extent_type")])]


def service_open_status(
    *, service: ServicePage, network: Network, at: datetime, location: Location | None = None
) -> OpenStatus:
    """Whether the service is open at ``at`` (at one location, or any), in the network's zone.

    Uses ``service.hours`` and ``service.closures``; prefetch them when asking for many services.
    """
    hours = [
        WeeklyHours(weekday=h.weekday, opens_at=h.opens_at, closes_at=h.closes_at)
        for h in service.hours.all()
        if location is None or h.location_id in (None, location.pk)
    ]
    closures = [Closure(start=c.start_date, end=c.end_date) for c in service.closures.all()]
    return open_status(hours=hours, closures=closures, at=at, tz=ZoneInfo(network.time_zone))
