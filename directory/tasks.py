"""Directory background work that Celery discovers; tasks only call services.

The tasks those services queue in turn are in ``directory.followup_tasks``, imported here so that
a worker registers them too.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from network.models import Network

from . import (
    followup_tasks,  # noqa: F401  (registers the tasks the services queue)
    services,
)
from .hsds import import_jobs


@shared_task
def listings_verification_request_all() -> int:
    """Daily: ask agencies in every network to confirm stale listings; how many were asked."""
    now = timezone.now()
    return sum(
        len(services.listings_verification_request(network=network, now=now))
        for network in Network.objects.all()
    )


@shared_task
def directory_import_run(import_id: int) -> str:
    """Import an uploaded HSDS file; the status it ended in."""
    return import_jobs.directory_import_run(import_id=import_id).status
