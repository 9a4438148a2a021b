"""Placing one stored location on the map from its address (the geocoding task's work).

``directory.services.location_points_refresh`` decides which locations need it and queues the
task; ``directory.geocoding`` turns an address into coordinates.
"""

from __future__ import annotations

import hashlib

from django.db import transaction

from .changes import services_changed_send
from .geocoding import geocode
from .models import GeocodeStatus, Location, LocationPoint, ServiceAtLocation


def address_fingerprint(location: Location) -> str:
    text = f"{location.address_line}|{location.country}".casefold()
    return hashlib.sha256(text.encode()).hexdigest()


def location_geocode(*, location_id: int) -> LocationPoint | None:
    """Place one location from its address (the geocoding task's work).

    Returns the point, or None if the location is gone or its address changed meanwhile.
    GeocodingUnavailable propagates so the task retries later.
    """
    location = Location.objects.filter(pk=location_id).first()
    if location is None:
        return None
    fingerprint = address_fingerprint(location)
    result = geocode(location.address_line, country=location.country or "US")
    with transaction.atomic():
        point = LocationPoint.objects.select_for_update().filter(location=location).first()
        if point is None or point.address_fingerprint != fingerprint:
            return None  # a newer save queued its own task
        if point.status == GeocodeStatus.MANUAL:
            return point
        if result is None:
            point.latitude = point.longitude = None
            point.status = GeocodeStatus.FAILED
            point.detail = "The address could not be placed; check it or enter coordinates."
        else:
            point.latitude, point.longitude = result.latitude, result.longitude
            point.status = GeocodeStatus.PLACED
            point.detail = f"{result.provider} ({result.precision})"
        point.save()
        services_changed_send(
            ServiceAtLocation.objects.filter(location=location).values_list("page_id", flat=True)
        )
        return point
