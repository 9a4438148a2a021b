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
from .feeds import runs as feed_runs
from .feeds import sync as feed_sync
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
def jobs_abandoned_close() -> int:
    """Every ten minutes: imports and feed syncs whose worker was lost are marked failed; how
    many."""
    return services.jobs_abandoned_close(now=timezone.now())


@shared_task
def directory_import_run(import_id: int) -> str:
    """Import an uploaded HSDS file; the status it ended in."""
    return import_jobs.directory_import_run(import_id=import_id).status


@shared_task
def hsds_feed_sync(run_id: int) -> str:
    """Run a queued sync of an HSDS feed; the status it ended in."""
    return feed_sync.feed_sync_run(run_id=run_id).status


@shared_task
def hsds_feeds_sync_due() -> int:
    """Every few minutes: queue the syncs of the feeds whose time has come; how many."""
    runs = feed_runs.feed_runs_due_create(now=timezone.now())
    for run in runs:
        hsds_feed_sync.delay(run.pk)
    return len(runs)
