"""An agency's locations with their phones, opening hours and map points."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, FieldRowPanel
from wagtail.models import Orderable

from .fields import hsds_extra_field, hsds_id_field

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
    number = models.CharField(_("number"))
    extension = models.CharField(_("extension"), blank=True)
    type = models.CharField(_("type"), max_length=20, blank=True, choices=PHONE_TYPES)
    description = models.CharField(_("description"), blank=True)

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

    page = ParentalKey("AgencyPage", on_delete=models.CASCADE, related_name="phones")
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

    page = ParentalKey("AgencyPage", on_delete=models.CASCADE, related_name="locations")
    hsds_id = hsds_id_field()
    address_hsds_id = hsds_id_field()
    hsds_extra = hsds_extra_field()
    name = models.CharField(_("name"))
    alternate_name = models.CharField(_("alternate name"), blank=True)
    description = models.TextField(_("description"), blank=True)
    location_type = models.CharField(
        _("type"), max_length=10, choices=LocationType.choices, default=LocationType.PHYSICAL
    )
    address_1 = models.CharField(_("street address"), blank=True)
    address_2 = models.CharField(_("address line 2"), blank=True)
    city = models.CharField(_("city"), blank=True)
    region = models.CharField(_("county"), blank=True)
    state_province = models.CharField(_("state"), blank=True)
    postal_code = models.CharField(_("ZIP code"), blank=True)
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
    address_confidential = models.BooleanField(
        _("address is confidential"),
        default=False,
        help_text=_(
            "Hide the street address and the map point from the public directory, the public "
            "API and exports (a domestic-violence shelter, for example). Signed-in staff of the "
            "network still see them."
        ),
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
        FieldPanel("address_confidential"),
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
    def public_address_line(self) -> str:
        """The address anyone may see: only the town when the address is confidential."""
        if not self.address_confidential:
            return self.address_line
        return ", ".join(p for p in (self.city, self.state_province) if p)

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
    description = models.CharField(_("note"), blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        day = dict(WEEKDAY_CHOICES)[self.weekday]
        return f"{day} {self.opens_at:%H:%M}-{self.closes_at:%H:%M}"


class LocationHours(Orderable, WeeklyOpening):
    """When a location itself is open (HSDS schedule of a location), one weekday per row."""

    page = ParentalKey("AgencyPage", on_delete=models.CASCADE, related_name="location_hours")
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
