"""Keeps the search index in step with the directory: every change reaches it after commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver
from wagtail.models import Page
from wagtail.signals import page_published, page_unpublished, post_page_move

from cms.generations import generation_bump
from directory.changes import services_changed
from directory.models import AgencyPage, ServicePage, TaxonomyTerm
from network.models import Organization

from .models import SEARCH_INDEX, SearchDocument
from .services import search_index_changed


def _service_ids(page: Page) -> list[int]:
    """The services a page change affects: itself, or every service of an agency."""
    page = page.specific if type(page) is Page else page
    if isinstance(page, ServicePage):
        return [page.pk]
    if isinstance(page, AgencyPage):
        return list(ServicePage.objects.child_of(page).values_list("pk", flat=True))
    return []


@receiver(page_published)
@receiver(page_unpublished)
def listing_published_or_unpublished(sender: Any, *, instance: Page, **kwargs: Any) -> None:
    search_index_changed(service_ids=_service_ids(instance))


@receiver(post_page_move)
def listing_moved(sender: Any, *, instance: Page, **kwargs: Any) -> None:
    search_index_changed(service_ids=_service_ids(instance))


@receiver(pre_delete, sender=ServicePage)
@receiver(pre_delete, sender=AgencyPage)
def listing_deleted(sender: Any, *, instance: Page, **kwargs: Any) -> None:
    """The database rows go with the page (cascade); other backends are told after commit."""
    from . import tasks

    if isinstance(instance, ServicePage):
        documents = SearchDocument.objects.filter(service=instance)
    else:
        documents = SearchDocument.objects.filter(agency=instance)
    keys = list(documents.values_list("key", flat=True))
    if keys:
        generation_bump(SEARCH_INDEX)
        transaction.on_commit(lambda: tasks.search_documents_push.delay([], keys))


@receiver(services_changed)
def directory_services_changed(sender: Any, *, service_ids: list[int], **kwargs: Any) -> None:
    search_index_changed(service_ids=service_ids)


@receiver(post_save, sender=TaxonomyTerm)
def service_type_saved(
    sender: Any, *, instance: TaxonomyTerm, created: bool, **kwargs: Any
) -> None:
    if not created:
        search_index_changed(
            service_ids=ServicePage.objects.filter(service_types=instance).values_list(
                "pk", flat=True
            )
        )


@receiver(post_save, sender=Organization)
def organization_saved(
    sender: Any, *, instance: Organization, created: bool, **kwargs: Any
) -> None:
    """An agency switched off (or on) leaves (or re-enters) search."""
    if not created and instance.receives_referrals:
        listing = AgencyPage.objects.filter(organization=instance).first()
        if listing is not None:
            search_index_changed(service_ids=_service_ids(listing))
