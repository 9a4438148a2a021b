"""Sync runs of HSDS feeds: queuing a new one (one unfinished at a time, as
``directory.selectors.job_unfinished`` tells), and which feeds are due. Nothing here queues a task
(``directory.tasks`` and ``directory.feeds.services`` do)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from network.models import User

from ..models import FeedRun, FeedRunTrigger, HsdsFeed
from ..selectors import job_unfinished


class SyncRunning(ValidationError):
    """The feed already has a sync queued or running."""


@transaction.atomic
def feed_run_create(*, feed: HsdsFeed, trigger: str, by: User | None, now: datetime) -> FeedRun:
    """A new queued run of ``feed``; SyncRunning while another is unfinished."""
    # The feed row is the lock: two requests at once make one run.
    HsdsFeed.objects.select_for_update().filter(pk=feed.pk).first()
    running = job_unfinished(
        jobs=FeedRun.objects.filter(feed=feed),
        now=now,
        stale_minutes=settings.HSDS_FEED_STALE_MINUTES,
    )
    if running is not None:
        raise SyncRunning(
            gettext("A sync of %(feed)s is already queued or running; wait until it has finished.")
            % {"feed": feed.name}
        )
    return FeedRun.objects.create(feed=feed, trigger=trigger, requested_by=by)


def feed_runs_due_create(*, now: datetime) -> list[FeedRun]:
    """A queued run for every active, scheduled feed whose time has come (each committed on its
    own); a feed with a sync unfinished is left for the next round."""
    due = HsdsFeed.objects.filter(active=True, sync_every_hours__gt=0).filter(
        Q(next_sync_at__isnull=True) | Q(next_sync_at__lte=now)
    )
    runs: list[FeedRun] = []
    for feed in due.order_by("next_sync_at", "pk"):
        try:
            runs.append(
                feed_run_create(feed=feed, trigger=FeedRunTrigger.SCHEDULE, by=None, now=now)
            )
        except SyncRunning:
            continue
    return runs
