"""A network's directory page and its agency pages (HSDS organizations)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    InlinePanel,
    MultiFieldPanel,
    ObjectList,
    TabbedInterface,
)
from wagtail.models import Page

from .fields import hsds_extra_field, hsds_id_field
from .page_forms import AgencyPageForm


class DirectoryIndexPage(Page):
    """A network's directory: the parent of its agency pages."""

    intro = models.CharField(_("introduction"), max_length=300, blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    parent_page_types = ["cms.HomePage"]
    subpage_types = ["directory.AgencyPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("directory")

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The network's agencies A to Z, each with its services, browsable by need."""
        from ..public_pages import index_context  # the same app: public_pages reads the models

        context = super().get_context(request, *args, **kwargs)
        context.update(index_context(page=self, request=request))
        return context

    def serve(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().serve(request, *args, **kwargs)
        if getattr(response, "context_data", None) and response.context_data.get("need_error"):
            response.status_code = 400  # an unknown need in the query string
        return response


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
    hsds_extra = hsds_extra_field()
    alternate_name = models.CharField(_("alternate name"), blank=True)
    description = models.TextField(_("description"))
    website = models.URLField(_("website"), blank=True)
    email = models.EmailField(_("email"), blank=True)
    tax_status = models.CharField(_("tax status"), blank=True)
    tax_id = models.CharField(_("tax id"), blank=True)
    year_incorporated = models.PositiveSmallIntegerField(
        _("year incorporated"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1600), MaxValueValidator(2200)],
    )
    legal_status = models.CharField(_("legal status"), blank=True)
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

    def get_context(self, request: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The agency's services and places, its confidential addresses hidden from the public."""
        from ..public_pages import agency_context  # the same app: public_pages reads the models

        context = super().get_context(request, *args, **kwargs)
        context.update(agency_context(page=self, request=request))
        return context

    def clean(self) -> None:
        super().clean()
        if self.organization_id and not self.organization.receives_referrals:  # type: ignore[union-attr]
            raise ValidationError({"organization": _("Choose an agency, not a clinic.")})
