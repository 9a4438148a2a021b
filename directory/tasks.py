"""Directory background work; tasks only call services."""

from __future__ import annotations

from celery import shared_task

from . import services
from .geocoding import GeocodingUnavailable


@shared_task(
    autoretry_for=(GeocodingUnavailable,), retry_backoff=True, retry_kwargs={"max_retries": 10}
)
def location_geocode(location_id: int) -> str | None:
    """Place a location from its address; the status it ended in, or None if it was skipped."""
    point = services.location_geocode(location_id=location_id)
    return point.status if point else None


@shared_task
def listings_verification_request_all() -> int:
    """Daily: ask agencies in every network to confirm stale listings; how many were asked."""
    from django.utils import timezone

    from network.models import Network

    now = timezone.now()
    return sum(
        len(services.listings_verification_request(network=network, now=now))
        for network in Network.objects.all()
    )


@shared_task(autoretry_for=(OSError,), retry_backoff=True, retry_kwargs={"max_retries": 8})
def listing_verification_send(page_id: int, user_id: int) -> bool:
    """Email one editor the link to confirm or update their agency's listing."""
    from .notifications import listing_verification_email

    return listing_verification_email(page_id=page_id, user_id=user_id)


@shared_task
def directory_import_run(import_id: int) -> str:
    """Import an uploaded HSDS file; the status it ended in."""
    return services.directory_import_run(import_id=import_id).status


@shared_task
def pages_search_index(page_ids: list[int]) -> int:
    """Add pages created in bulk (which skipped per-save indexing) to Wagtail's search index."""
    from wagtail.models import Page
    from wagtail.search.backends import get_search_backends

    count = 0
    for start in range(0, len(page_ids), 500):
        by_model: dict[type, list[Page]] = {}
        for page in Page.objects.filter(pk__in=page_ids[start : start + 500]).specific():
            by_model.setdefault(type(page), []).append(page)
        for model, pages in by_model.items():
            for backend in get_search_backends():
                backend.add_bulk(model, pages)
            count += len(pages)
    return count
