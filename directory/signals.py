"""Keeps derived directory state in step with tenancy and publishing."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from wagtail.signals import page_published

from network.models import Organization
from network.signals import membership_changed

from . import services
from .models import AgencyPage, ServiceCapacity, ServicePage


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
