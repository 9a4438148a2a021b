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
