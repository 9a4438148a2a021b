"""The cast of the admin scoping tests (test_admin_scoping_*.py): two networks, each with a
``Place`` of admin-visible objects (listings, a service, a term, an agreement, a suggestion, a
document, an image) named with a marker no other network uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.files.base import ContentFile
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.images.tests.utils import get_test_image_file
from wagtail.log_actions import log
from wagtail.models import Page

from consent import services as consent_services
from directory import services as directory_services
from directory.models import AgencyPage, HsdsFeed, ListingSuggestion, ServicePage, TaxonomyTerm
from network import smart
from network.models import ApiClient, ApiClientRole, Network, Organization, Role, User
from tests.network.factories import Tenant, organization_make, tenant_make
from tests.referrals.fhir.support import key_pair

ADMIN_ROLES = [Role.NETWORK_ADMIN, Role.AGENCY_ADMIN]


@dataclass
class Place:
    """One network's admin-visible objects, each named with a marker (the label) no other
    network uses."""

    tenant: Tenant
    marker: str
    listing: AgencyPage
    other_listing: AgencyPage  # another agency's listing in the same network
    service: ServicePage
    term: TaxonomyTerm
    agreement: Any
    suggestion: ListingSuggestion
    document: Any
    image: Any
    feed: HsdsFeed
    system: ApiClient

    def snippet(self, model: type) -> Any:
        return {
            Organization: self.tenant.agency,
            Network: self.tenant.network,
            TaxonomyTerm: self.term,
            ListingSuggestion: self.suggestion,
            HsdsFeed: self.feed,
            ApiClient: self.system,
            type(self.agreement): self.agreement,
        }[model]


def place_make(label: str) -> Place:
    tenant = tenant_make(label)
    network, admin = tenant.network, tenant.users[Role.NETWORK_ADMIN]
    marker = label  # in every name: network, organizations, pages, terms, files
    index = directory_services.directory_index_for(network)
    listing = AgencyPage(
        title=f"{marker} listing", slug="listing", description=".", organization=tenant.agency
    )
    index.add_child(instance=listing)
    service = ServicePage(title=f"{marker} pantry", slug="pantry", description="Food.")
    listing.add_child(instance=service)
    directory_services.listing_editors_sync(organization=tenant.agency)
    other = organization_make(network, "agency", name=f"{marker} neighbour agency")
    other_listing = AgencyPage(
        title=f"{marker} neighbour listing", slug="neighbour", description=".", organization=other
    )
    index.add_child(instance=other_listing)
    term = TaxonomyTerm.objects.create(network=network, code="food", name=f"{marker} term")
    agreement = consent_services.agreement_create(
        by=admin, agency=tenant.agency, fields=[], effective_from=date(2026, 1, 1)
    )
    suggestion = directory_services.listing_suggestion_create(
        page=listing,
        organization=tenant.agency,
        by=tenant.users[Role.AGENCY_STAFF],
        text=f"{marker} suggestion",
    )
    feed = HsdsFeed.objects.create(
        network=network, name=f"{marker} feed", url=f"https://{label.lower()}.example.org/api/hsds/"
    )
    _private, public = key_pair("ES384")
    system = smart.api_client_register(
        network=network,
        organization=tenant.clinic,
        name=f"{marker} EHR",
        role=ApiClientRole.CLINIC,
        jwks={"keys": [{**public, "kid": f"{label.lower()}-1"}]},
        scopes=["system/Task.rs"],
        by=None,
    )
    for instance in (tenant.agency, term, agreement, suggestion, feed, system):
        log(instance=instance, action="wagtail.edit", user=admin)
    # People's names carry the marker too: page owners and editors are offered as filters.
    User.objects.filter(pk__in=[user.pk for user in tenant.users.values()]).update(first_name=label)
    Page.objects.filter(pk=listing.pk).update(owner=tenant.users[Role.AGENCY_ADMIN])
    log(instance=listing, action="wagtail.edit", user=tenant.users[Role.AGENCY_ADMIN])
    collection = network.collection
    document = get_document_model().objects.create(
        title=f"{marker} signed agreement",
        file=ContentFile(b"%PDF-1.4 signed", name="agreement.pdf"),
        collection=collection,
    )
    image = get_image_model().objects.create(
        title=f"{marker} logo", file=get_test_image_file(), collection=collection
    )
    return Place(
        tenant=tenant,
        marker=marker,
        listing=listing,
        other_listing=other_listing,
        service=service,
        term=term,
        agreement=agreement,
        suggestion=suggestion,
        document=document,
        image=image,
        feed=feed,
        system=system,
    )


def places_make() -> tuple[Place, Place]:
    """Network "Alpha" (the actor's, in the tests) and network "Bravo" (the other one)."""
    return place_make("Alpha"), place_make("Bravo")
