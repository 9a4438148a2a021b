"""Page forms that offer only the choices of the page's own network and agency (the agency and
service pages' ``base_form_class``)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.forms import BaseFormSet
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.models import Page

from network.models import Network, Organization, OrganizationKind

from ..tenancy import page_network
from .locations import Location
from .taxonomy import TaxonomyTerm


def _network_of(page: Page | None) -> Network | None:
    return page_network(page=page) if page is not None else None


def _scope_formset(formset: BaseFormSet[Any], field: str, queryset: QuerySet[Any]) -> None:
    """Limit ``field`` in every form of the formset, the blank "add another" form included."""
    for form in formset.forms:
        form.fields[field].queryset = queryset

    class ScopedFormSet(type(formset)):  # type: ignore[misc]
        @property
        def empty_form(self) -> Any:
            form = super().empty_form
            form.fields[field].queryset = queryset
            return form

    formset.__class__ = ScopedFormSet


class AgencyPageForm(WagtailAdminPageForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        anchor = self.instance if self.instance.pk else self.parent_page
        network = _network_of(anchor)
        organizations = Organization.objects.none()
        if network is not None:
            organizations = Organization.objects.filter(
                network=network, kind__in=[OrganizationKind.AGENCY, OrganizationKind.BOTH]
            )
            if self.instance.pk:
                organizations = organizations.filter(listing__isnull=True) | organizations.filter(
                    pk=self.instance.organization_id
                )
            else:
                organizations = organizations.filter(listing__isnull=True)
        self.fields["organization"].queryset = organizations
        locations = (
            Location.objects.filter(page=self.instance)
            if self.instance.pk
            else Location.objects.none()
        )
        _scope_formset(self.formsets["phones"], "location", locations)
        _scope_formset(self.formsets["location_hours"], "location", locations)


class ServicePageForm(WagtailAdminPageForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agency = self.instance.get_parent() if self.instance.pk else self.parent_page
        locations = (
            Location.objects.filter(page_id=agency.pk)
            if agency is not None
            else Location.objects.none()
        )
        for name in ("service_locations", "hours"):
            _scope_formset(self.formsets[name], "location", locations)
        network = _network_of(agency)
        self.fields["service_types"].queryset = (
            TaxonomyTerm.objects.filter(network=network)
            if network is not None
            else TaxonomyTerm.objects.none()
        )
