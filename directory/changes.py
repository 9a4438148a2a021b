"""What the directory announces when what a listing shows has changed outside page publishing.

Capacity, verification, map points and bulk imports change listings without a Wagtail publish;
search (and anything else that mirrors listings) listens here instead of being called directly.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.dispatch import Signal

# Sent with ``service_ids``: the ServicePage ids whose listing changed.
services_changed = Signal()


def services_changed_send(service_ids: Iterable[int]) -> None:
    ids = sorted(set(service_ids))
    if ids:
        services_changed.send(sender=None, service_ids=ids)
