"""The directory: agencies, their locations and services, as Wagtail pages following HSDS 3.0.

Page content (what an agency publishes) is revisioned and moderated. Facts that change daily or
that the system derives (capacity, verification, geocoded points) live in their own tables, so
that publishing a revision never rolls them back.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from modelcluster.models import ClusterableModel
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

from cms.storage import private_storage, random_name

from .forms import AgencyPageForm, ServicePageForm

if TYPE_CHECKING:
    pass


def _hsds_id() -> uuid.UUID:
    return uuid.uuid4()


def hsds_id_field() -> models.UUIDField:
    """Every HSDS entity keeps its id, so an export re-imports onto the same rows."""
    return models.UUIDField(_("HSDS id"), default=_hsds_id, db_index=True, editable=False)


class SdohCategory(models.Model):
    """A Gravity Project SDOH category (code system SDOHCC temporary codes)."""

    code = models.SlugField(_("code"), max_length=64, unique=True)
    display = models.CharField(_("name"), max_length=120)
    system = models.URLField(_("code system"), max_length=200)
    is_sensitive = models.BooleanField(
        _("sensitive"),
        default=False,
        help_text=_("Disclosed only with consent that names the recipient."),
    )
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "display"]
        verbose_name = _("SDOH category")
        verbose_name_plural = _("SDOH categories")

    def __str__(self) -> str:
        return self.display


class TaxonomyTerm(models.Model):
    """A network-editable service type (HSDS taxonomy_term), arranged as a tree."""

    network = models.ForeignKey(
        "network.Network", on_delete=models.CASCADE, related_name="taxonomy_terms"
    )
    hsds_id = hsds_id_field()
    taxonomy = models.CharField(_("taxonomy"), max_length=120, default="Service types")
    code = models.CharField(_("code"), max_length=64)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("parent"),
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "code"], name="taxonomy_code_per_network"),
            models.UniqueConstraint(
                fields=["network", "hsds_id"], name="taxonomy_hsds_id_per_network"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} > {self.name}" if self.parent_id and self.parent else self.name

    def clean(self) -> None:
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk and self.pk is not None:
                raise ValidationError({"parent": _("A term cannot be its own ancestor.")})
            if ancestor.network_id != self.network_id:
                raise ValidationError({"parent": _("The parent belongs to another network.")})
            ancestor = ancestor.parent


class DirectoryIndexPage(Page):
    """A network's directory: the parent of its agency pages."""

    intro = models.CharField(_("introduction"), max_length=300, blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["directory.AgencyPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("directory")


class AgencyPage(Page):
    """An agency's listing (HSDS organization), one per agency organization."""

    organization = models.OneToOneField(
        "network.Organization",
        on_delete=models.PROTECT,
        related_name="listing",
        null=True,
        blank=True,
        help_text=_("The agency organization whose staff keep this listing current."),
    )
    hsds_id = hsds_id_field()
    alternate_name = models.CharField(_("alternate name"), max_length=200, blank=True)
    description = models.TextField(_("description"))
    website = models.URLField(_("website"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    tax_status = models.CharField(_("tax status"), max_length=100, blank=True)
    tax_id = models.CharField(_("tax id"), max_length=40, blank=True)
    year_incorporated = models.PositiveSmallIntegerField(
        _("year incorporated"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1600), MaxValueValidator(2200)],
    )
    legal_status = models.CharField(_("legal status"), max_length=100, blank=True)
    logo = models.ForeignKey(
        "wagtailimages.Image", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    content_panels = [
        *Page.content_panels,
        FieldPanel("organization"),
        FieldPanel("alternate_name"),
        FieldPanel("description"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("website"), FieldPanel("email")]),
                InlinePanel("phones", label=_("Phones")),
            ],
            heading=_("Contact"),
        ),
        FieldPanel("logo"),
    ]
    location_panels = [
        InlinePanel("locations", label=_("Locations"), min_num=0),
        InlinePanel("location_hours", label=_("Opening hours of locations")),
    ]
    legal_panels = [
        FieldRowPanel([FieldPanel("tax_status"), FieldPanel("tax_id")]),
        FieldRowPanel([FieldPanel("legal_status"), FieldPanel("year_incorporated")]),
    ]
    edit_handler = TabbedInterface(
        [
            ObjectList(content_panels, heading=_("Agency")),
            ObjectList(location_panels, heading=_("Locations")),
            ObjectList(legal_panels, heading=_("Legal")),
            ObjectList(Page.promote_panels, heading=_("Promote")),
            ObjectList(Page.settings_panels, heading=_("Settings")),
        ]
    )
    parent_page_types = ["directory.DirectoryIndexPage"]
    subpage_types = ["directory.ServicePage"]
    base_form_class = AgencyPageForm

    class Meta:
        verbose_name = _("agency")

    def clean(self) -> None:
        super().clean()
        if self.organization_id and not self.organization.receives_referrals:  # type: ignore[union-attr]
            raise ValidationError({"organization": _("Choose an agency, not a clinic.")})


PHONE_TYPES = [
    ("voice", _("Voice")),
    ("fax", _("Fax")),
    ("text", _("Text")),
    ("cell", _("Cell")),
    ("video", _("Video")),
    ("pager", _("Pager")),
    ("textphone", _("Textphone")),
]


class PhoneNumber(models.Model):
    """The fields of an HSDS phone, shared by agency, location and service phones."""

    hsds_id = hsds_id_field()
    number = models.CharField(_("number"), max_length=40)
    extension = models.CharField(_("extension"), max_length=10, blank=True)
    type = models.CharField(_("type"), max_length=20, blank=True, choices=PHONE_TYPES)
    description = models.CharField(_("description"), max_length=200, blank=True)

    panels = [
        FieldRowPanel([FieldPanel("number"), FieldPanel("extension"), FieldPanel("type")]),
        FieldPanel("description"),
    ]

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.number} x{self.extension}" if self.extension else self.number


class Phone(Orderable, PhoneNumber):
    """A phone number of an agency, or of one of its locations (HSDS phone)."""

    page = ParentalKey(AgencyPage, on_delete=models.CASCADE, related_name="phones")
    location = models.ForeignKey(
        "Location",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="phones",
        help_text=_("Empty: the agency's own number."),
    )

    panels = [*PhoneNumber.panels, FieldPanel("location")]


WEEKDAY_CHOICES = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


class LocationType(models.TextChoices):
    PHYSICAL = "physical", _("Physical (visit in person)")
    POSTAL = "postal", _("Postal (mail only)")
    VIRTUAL = "virtual", _("Virtual (phone or online)")


class Location(Orderable, ClusterableModel):
    """Where an agency is (HSDS location with its physical address)."""

    page = ParentalKey(AgencyPage, on_delete=models.CASCADE, related_name="locations")
    hsds_id = hsds_id_field()
    address_hsds_id = hsds_id_field()
    name = models.CharField(_("name"), max_length=200)
    alternate_name = models.CharField(_("alternate name"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    location_type = models.CharField(
        _("type"), max_length=10, choices=LocationType.choices, default=LocationType.PHYSICAL
    )
    address_1 = models.CharField(_("street address"), max_length=200, blank=True)
    address_2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("county"), max_length=100, blank=True)
    state_province = models.CharField(_("state"), max_length=100, blank=True)
    postal_code = models.CharField(_("ZIP code"), max_length=10, blank=True)
    country = models.CharField(_("country"), max_length=2, default="US")
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
        help_text=_("Leave empty to place the location from its address."),
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    transportation = models.TextField(_("getting there"), blank=True)
    accessibility = models.TextField(_("accessibility"), blank=True)
    languages = models.JSONField(
        _("languages spoken"),
        default=list,
        blank=True,
        help_text=_("ISO 639 codes, e.g. en, es, hmn."),
    )

    panels = [
        FieldRowPanel([FieldPanel("name"), FieldPanel("location_type")]),
        FieldPanel("address_1"),
        FieldPanel("address_2"),
        FieldRowPanel(
            [FieldPanel("city"), FieldPanel("state_province"), FieldPanel("postal_code")]
        ),
        FieldRowPanel([FieldPanel("latitude"), FieldPanel("longitude")]),
        FieldPanel("transportation"),
        FieldPanel("accessibility"),
        FieldPanel("languages"),
    ]

    def __str__(self) -> str:
        return f"{self.name} — {self.address_1}, {self.city}" if self.address_1 else self.name

    def clean(self) -> None:
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError(_("Give both latitude and longitude, or neither."))
        if (
            self.latitude is not None
            and self.longitude is not None
            and (self.latitude == 0 and self.longitude == 0)
        ):
            raise ValidationError({"latitude": _("0,0 is not a place; leave both empty.")})
        if self.location_type == LocationType.PHYSICAL and not (self.address_1 and self.city):
            raise ValidationError(_("A physical location needs a street address and a city."))

    @property
    def address_line(self) -> str:
        parts = [
            self.address_1,
            self.address_2,
            self.city,
            f"{self.state_province} {self.postal_code}".strip(),
        ]
        return ", ".join(p for p in parts if p)


class WeeklyOpening(models.Model):
    """One weekday's opening (an HSDS WEEKLY schedule is split into a row per day)."""

    hsds_id = hsds_id_field()
    weekday = models.PositiveSmallIntegerField(_("day"), choices=WEEKDAY_CHOICES)
    opens_at = models.TimeField(_("opens"))
    closes_at = models.TimeField(
        _("closes"), help_text=_("Earlier than opening time: open past midnight.")
    )
    description = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        day = dict(WEEKDAY_CHOICES)[self.weekday]
        return f"{day} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class LocationHours(Orderable, WeeklyOpening):
    """When a location itself is open (HSDS schedule of a location), one weekday per row."""

    page = ParentalKey(AgencyPage, on_delete=models.CASCADE, related_name="location_hours")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="hours")

    panels = [
        FieldPanel("location"),
        FieldRowPanel([FieldPanel("weekday"), FieldPanel("opens_at"), FieldPanel("closes_at")]),
    ]

    class Meta(Orderable.Meta):
        verbose_name_plural = _("location hours")


class GeocodeStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be placed")
    PLACED = "placed", _("Placed from the address")
    MANUAL = "manual", _("Coordinates entered by hand")
    FAILED = "failed", _("Address could not be placed")


class LocationPoint(models.Model):
    """Where a location is on the map: entered by hand or geocoded (outside page revisions)."""

    location = models.OneToOneField(Location, on_delete=models.CASCADE, related_name="point")
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=GeocodeStatus.choices, default=GeocodeStatus.PENDING
    )
    address_fingerprint = models.CharField(max_length=64, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["latitude", "longitude"], name="location_point_lat_lng")]

    def __str__(self) -> str:
        return f"{self.location} ({self.get_status_display()})"


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
    alternate_name = models.CharField(_("alternate name"), max_length=200, blank=True)
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
    interpretation_services = models.CharField(_("interpretation"), max_length=300, blank=True)
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
    wait_time = models.CharField(_("wait time"), max_length=200, blank=True)
    referral_method = models.CharField(
        _("referrals"),
        max_length=20,
        choices=ReferralMethod.choices,
        default=ReferralMethod.ELECTRONIC,
    )
    alert = models.CharField(
        _("alert"),
        max_length=300,
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
        """The public listing: where, when, what it costs, and whether it is open now."""
        from django.utils import timezone

        from .selectors import page_network, service_open_status

        context = super().get_context(request, *args, **kwargs)
        network = page_network(page=self)
        sites = list(self.service_locations.select_related("location__point"))
        context.update(
            agency=self.get_parent().specific,
            sites=sites,
            hours=list(self.hours.select_related("location")),
            capacity=getattr(self, "capacity", None),
            open_status=(
                service_open_status(service=self, network=network, at=timezone.now())
                if network is not None and self.hours.exists()
                else None
            ),
        )
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
    option = models.CharField(_("option"), max_length=200, blank=True)
    amount = models.DecimalField(
        _("amount"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    amount_description = models.CharField(_("amount description"), max_length=200, blank=True)

    panels = [
        FieldRowPanel([FieldPanel("option"), FieldPanel("amount"), FieldPanel("currency")]),
        FieldPanel("amount_description"),
    ]


class RequiredDocument(Orderable):
    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="required_documents")
    hsds_id = hsds_id_field()
    document = models.CharField(_("document"), max_length=200)
    uri = models.URLField(_("link"), blank=True)


class ServiceArea(Orderable):
    """Where a service's clients must live: ZIP codes or counties (HSDS service_area)."""

    page = ParentalKey(ServicePage, on_delete=models.CASCADE, related_name="service_areas")
    hsds_id = hsds_id_field()
    name = models.CharField(_("name"), max_length=200, help_text=_("A ZIP code or county name."))
    extent_type = models.CharField(
        _("kind"),
        max_length=10,
        default="zip",
        choices=[("zip", _("ZIP code")), ("county", _("County")), ("other", _("Other"))],
    )
    description = models.CharField(_("description"), max_length=300, blank=True)

    panels = [FieldRowPanel([FieldPanel("name"), FieldPanel("extent_type")])]


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


class DirectoryImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Refused: nothing imported")


def import_upload_to(instance: DirectoryImport, filename: str) -> str:
    """A random name: the package is the network's unpublished data, not a public file."""
    return random_name(folder="directory-imports", extension=filename.rsplit(".", 1)[-1])


class DirectoryImport(models.Model):
    """An HSDS file a network admin uploaded, and what importing it did."""

    network = models.ForeignKey(
        "network.Network", on_delete=models.CASCADE, related_name="directory_imports"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Private storage, read by the import task only (the admin shows the original name).
    upload = models.FileField(upload_to=import_upload_to, storage=private_storage, max_length=255)
    original_name = models.CharField(max_length=255)
    status = models.CharField(
        max_length=10, choices=DirectoryImportStatus.choices, default=DirectoryImportStatus.QUEUED
    )
    summary = models.TextField(blank=True)
    problems = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"


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
