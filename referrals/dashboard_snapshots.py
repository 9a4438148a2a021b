"""The dashboard served from snapshots in the cache: computed again when a network's referrals
change (a changed snapshot is still shown a little while, saying so) and at least every few
minutes, and warmed for the networks whose admins look at it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import (
    Count,
    Max,
    OuterRef,
    Subquery,
)
from django.utils import translation
from django.utils.translation import get_language

from consent.models import DataSharingAgreement
from network.models import Network, Organization
from referrals.changes import referrals_changed_token
from referrals.dashboard import Dashboard, Period, dashboard_for, period_default
from referrals.models import Referral

# The page without recomputing while nothing has changed.
#
# Computing the page reads every referral of the period (a quarter of a year: tens of thousands
# of rows in a large network). A snapshot of it is kept in the cache and served while
#
# * it is younger than ``SNAPSHOT_MAX_AGE``: some figures move with the clock alone (due for
#   feedback, went overdue, overdue now), and organizations can be renamed;
# * and nothing it depends on has changed, or it is younger than ``CHANGED_GRACE``; then the
#   page says that referrals changed since and offers to compute the figures at once.
#   ``dashboard_stamp``, read on every request, tells: it names the token that every referral
#   write through the services renews when it commits (``dashboard_changed``), and, from the
#   database, the network's latest referral and agreement changes and its organizations (edits
#   made outside the services). Any change, including one committed while the snapshot was
#   being computed, changes the stamp. A token lost from the cache only causes a computation.
#
# Every page says when its figures were computed. ``dashboards_warm`` (every minute, from
# Celery beat) recomputes the default period of the networks whose dashboard was opened in the
# last week when it changed or is growing old: in a busy network, where referrals change every
# minute, the admin still gets a page of figures at most a minute or two old without waiting.

SNAPSHOT_MAX_AGE = timedelta(minutes=5)
CHANGED_GRACE = timedelta(minutes=2)  # a changed network's snapshot is still shown this long
WARM_BEFORE = timedelta(minutes=2)  # the warmer recomputes snapshots older than MAX_AGE - this
VIEWED_FOR = timedelta(days=7)


@dataclass(frozen=True)
class Snapshot:
    stamp: str
    board: Dashboard  # ``board.now`` is when it was computed


@dataclass(frozen=True)
class Served:
    board: Dashboard
    changed_since: bool  # referrals (or agreements, organizations) changed after ``board.now``


def dashboard_stamp(network: Network) -> str:
    """A text that changes whenever a figure of the network's dashboard could change other than
    by the clock: a referral sent or changed (the services' token; ``updated_at`` for other
    writers), an agreement changed, an organization added. One query (index-only on
    ``(network, updated_at)``) and one cache read."""
    latest_referral = Referral.objects.filter(network=OuterRef("pk")).order_by("-updated_at")
    latest_agreement = DataSharingAgreement.objects.filter(network=OuterRef("pk")).order_by(
        "-updated_at"
    )
    organizations = (
        Organization.objects.filter(network=OuterRef("pk"))
        .order_by()
        .values("network")
        .annotate(n=Count("pk"), last=Max("pk"))
    )
    found = (
        Network.objects.filter(pk=network.pk)
        .annotate(
            referral_changed=Subquery(latest_referral.values("updated_at")[:1]),
            agreement_changed=Subquery(latest_agreement.values("updated_at")[:1]),
            organization_count=Subquery(organizations.values("n")),
            last_organization=Subquery(organizations.values("last")),
        )
        .values_list(
            "referral_changed", "agreement_changed", "organization_count", "last_organization"
        )
        .first()
    )
    return "|".join(str(part) for part in (referrals_changed_token(network.pk), *(found or ())))


def _snapshot_key(network: Network, period: Period) -> str:
    # Labels (outcomes, needs) are translated when computed: one snapshot per language.
    return (
        f"network-dashboard:{network.pk}:{period.first.isoformat()}:{period.last.isoformat()}:"
        f"{get_language() or ''}"
    )


def dashboard_snapshot(
    *,
    network: Network,
    period: Period,
    now: datetime,
    refresh: bool = False,
) -> Served:
    """The dashboard as last computed if it is younger than ``SNAPSHOT_MAX_AGE`` and nothing
    has changed since, or if it is younger than ``CHANGED_GRACE`` (saying so); else computed
    now and kept. ``refresh``: compute it now whatever is kept. One query on a hit; on a miss,
    one more than ``dashboard_for``."""
    served, _computed = _snapshot(
        network=network,
        period=period,
        now=now,
        max_age=timedelta(0) if refresh else SNAPSHOT_MAX_AGE,
        grace=timedelta(0) if refresh else CHANGED_GRACE,
    )
    return served


def _snapshot(
    *,
    network: Network,
    period: Period,
    now: datetime,
    max_age: timedelta,
    grace: timedelta,
) -> tuple[Served, bool]:
    """(what to show, whether it was computed now)."""
    key = _snapshot_key(network, period)
    stamp = dashboard_stamp(network)  # before computing: a change made meanwhile is not missed
    kept = cache.get(key)
    if isinstance(kept, Snapshot) and timedelta(0) <= now - kept.board.now < max_age:
        if kept.stamp == stamp:
            return Served(board=kept.board, changed_since=False), False
        if now - kept.board.now < grace:
            return Served(board=kept.board, changed_since=True), False
    board = dashboard_for(network=network, period=period, now=now)
    cache.set(key, Snapshot(stamp=stamp, board=board), SNAPSHOT_MAX_AGE.total_seconds())
    return Served(board=board, changed_since=False), True


def _viewed_key(network_id: int) -> str:
    return f"network-dashboard-viewed:{network_id}"


def dashboard_viewed(network: Network, now: datetime) -> None:
    """Remember that the network's dashboard was opened in the current language (for the
    warmer)."""
    key = _viewed_key(network.pk)
    languages = cache.get(key) or {}
    languages[get_language() or ""] = now
    cache.set(key, languages, VIEWED_FOR.total_seconds())


def dashboards_warm(*, now: datetime) -> int:
    """Recompute the default-period snapshot of every network whose dashboard was opened in the
    last week, in each language it was opened in, if it changed or is due to grow too old.
    Returns how many were recomputed."""

    keys = {_viewed_key(pk): pk for pk in Network.objects.values_list("pk", flat=True)}
    viewed = {keys[key]: languages for key, languages in cache.get_many(list(keys)).items()}
    computed = 0
    for network in Network.objects.filter(pk__in=list(viewed)):
        period = period_default(network=network, now=now)
        for language, seen in viewed[network.pk].items():
            if now - seen > VIEWED_FOR:
                continue
            with translation.override(language or None):
                _served, fresh = _snapshot(
                    network=network,
                    period=period,
                    now=now,
                    max_age=SNAPSHOT_MAX_AGE - WARM_BEFORE,
                    grace=timedelta(0),
                )
            computed += fresh
    return computed
