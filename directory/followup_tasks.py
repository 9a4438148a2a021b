"""The tasks the directory's writes queue once they commit: place a location from its address,
email an editor the link to confirm a listing, add pages created in bulk to Wagtail's search index,
rebuild a renamed network's HSDS documents.

They keep the names they had in ``directory.tasks`` (``name=``), so messages already queued and
any routing by name still find them. ``directory.tasks``, the module Celery discovers, imports this
one; its two tasks call the services that queue these.
"""

from __future__ import annotations

from celery import shared_task
from wagtail.models import Page
from wagtail.search.backends import get_search_backends

from cms.errors import DATABASE_UNREACHABLE
from network.models import Network

from . import map_points
from .geocoding import GeocodingUnavailable
from .hsds.stored import service_documents_rebuild
from .notifications import listing_verification_email


@shared_task(
    name="directory.tasks.location_geocode",
    autoretry_for=(GeocodingUnavailable, *DATABASE_UNREACHABLE),
    retry_backoff=True,
    retry_kwargs={"max_retries": 10},
)
def location_geocode(location_id: int) -> str | None:
    """Place a location from its address; the status it ended in, or None if it was skipped."""
    point = map_points.location_geocode(location_id=location_id)
    return point.status if point else None


@shared_task(
    name="directory.tasks.listing_verification_send",
    # Everything is read (and the link's token written) before the email is sent, nothing after:
    # a retry never sends it twice.
    autoretry_for=(OSError, *DATABASE_UNREACHABLE),
    retry_backoff=True,
    retry_kwargs={"max_retries": 8},
)
def listing_verification_send(page_id: int, user_id: int) -> bool:
    """Email one editor the link to confirm or update their agency's listing."""
    return listing_verification_email(page_id=page_id, user_id=user_id)


# Both rebuild from what is stored, so running again is safe; retried while the database is
# unreachable.
@shared_task(
    name="directory.tasks.pages_search_index",
    autoretry_for=DATABASE_UNREACHABLE,
    retry_backoff=True,
    retry_kwargs={"max_retries": 10},
)
def pages_search_index(page_ids: list[int]) -> int:
    """Add pages created in bulk (which skipped per-save indexing) to Wagtail's search index."""
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


@shared_task(
    autoretry_for=DATABASE_UNREACHABLE, retry_backoff=True, retry_kwargs={"max_retries": 10}
)
def hsds_documents_rebuild(network_id: int) -> int:
    """Rebuild a network's stored HSDS documents (after a rename: its own taxonomies carry its
    name and slug); how many were written."""
    network = Network.objects.filter(pk=network_id).first()
    return service_documents_rebuild(network=network) if network is not None else 0
