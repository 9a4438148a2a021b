"""Writes about HSDS feeds that people ask for: "Sync now".

``directory.feeds.sync`` runs the syncs; the schedule queues them through ``directory.tasks``.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext

from network.models import User
from network.permissions import NetworkPerm, user_has_network_perm

from .. import tasks
from ..models import FeedRun, FeedRunTrigger, HsdsFeed
from .runs import feed_run_create


@transaction.atomic
def feed_sync_request(*, feed: HsdsFeed, by: User, now: datetime) -> FeedRun:
    """Queue a sync of ``feed`` now; its network's admins only. SyncRunning while another sync
    of the feed is unfinished. The task starts after commit."""
    if not user_has_network_perm(by, NetworkPerm.ADMINISTER, feed.network):
        raise PermissionDenied(gettext("Only the network's admins can sync its feeds."))
    run = feed_run_create(feed=feed, trigger=FeedRunTrigger.MANUAL, by=by, now=now)
    transaction.on_commit(lambda: tasks.hsds_feed_sync.delay(run.pk))
    return run
