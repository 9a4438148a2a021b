"""Keeps derived directory state in step with tenancy and publishing."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from wagtail.models import Page
from wagtail.signals import page_published, page_unpublished, post_page_move

from network.models import Network, Organization
from network.signals import membership_changed

from . import followup_tasks, services
from .changes import services_changed
from .hsds.stored import agency_service_ids, service_documents_refresh
from .models import AgencyPage, ServiceCapacity, ServicePage, TaxonomyTerm


@receiver(membership_changed)
def listing_editors_follow_memberships(
    sender: Any, *, organization: Organization | None, **kwargs: Any
) -> None:
    if organization is not None:
        services.listing_editors_sync(organization=organization)


@receiver(page_published)
def listing_published(sender: Any, *, instance: Any, **kwargs: Any) -> None:
    page = instance.specific if hasattr(instance, "specific") else instance
    if isinstance(page, AgencyPage):
        services.location_points_refresh(locations=page.locations.all())
    elif isinstance(page, ServicePage):
        ServiceCapacity.objects.get_or_create(service=page)


# --- stored HSDS documents: rewritten in the transaction that changes what they show ----------


def _listing_service_ids(page: Page) -> list[int]:
    """The services a page change affects: itself, or every service of an agency."""
    page = page.specific if type(page) is Page else page
    if isinstance(page, ServicePage):
        return [page.pk]
    if isinstance(page, AgencyPage):
        return agency_service_ids(page)
    return []


@receiver(page_published)
@receiver(page_unpublished)
@receiver(post_page_move)
def hsds_documents_follow_pages(sender: Any, *, instance: Page, **kwargs: Any) -> None:
    """Publish, unpublish and move; a deleted page's document goes with it (cascade)."""
    service_documents_refresh(service_ids=_listing_service_ids(instance))


@receiver(services_changed)
def hsds_documents_follow_changes(sender: Any, *, service_ids: list[int], **kwargs: Any) -> None:
    """Imports, map points and other changes made without a page publish."""
    service_documents_refresh(service_ids=service_ids)


def _tagged(term: TaxonomyTerm) -> list[int]:
    return list(ServicePage.objects.filter(service_types=term).values_list("pk", flat=True))


@receiver(post_save, sender=TaxonomyTerm)
def hsds_documents_follow_term(
    sender: Any, *, instance: TaxonomyTerm, created: bool, **kwargs: Any
) -> None:
    if not created:
        service_documents_refresh(service_ids=_tagged(instance))


@receiver(pre_delete, sender=TaxonomyTerm)
def hsds_documents_term_leaving(sender: Any, *, instance: TaxonomyTerm, **kwargs: Any) -> None:
    instance._hsds_tagged = _tagged(instance)  # type: ignore[attr-defined]


@receiver(post_delete, sender=TaxonomyTerm)
def hsds_documents_term_gone(sender: Any, *, instance: TaxonomyTerm, **kwargs: Any) -> None:
    service_documents_refresh(service_ids=getattr(instance, "_hsds_tagged", []))


@receiver(pre_save, sender=Network)
def hsds_documents_network_renaming(sender: Any, *, instance: Network, **kwargs: Any) -> None:
    before = Network.objects.filter(pk=instance.pk).values("name", "slug").first()
    instance._hsds_renamed = before is not None and before != {  # type: ignore[attr-defined]
        "name": instance.name,
        "slug": instance.slug,
    }


@receiver(post_save, sender=Network)
def hsds_documents_network_renamed(sender: Any, *, instance: Network, **kwargs: Any) -> None:
    """The network's own taxonomies name it (their description) and its slug (their ids): its
    documents are rebuilt once the rename commits, by a worker (every service of a network,
    too many for the admin's request); until then they carry the old name."""
    if getattr(instance, "_hsds_renamed", False):
        pk = instance.pk
        transaction.on_commit(lambda: followup_tasks.hsds_documents_rebuild.delay(pk))
