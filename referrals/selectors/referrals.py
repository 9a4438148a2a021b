"""Referrals as each side sees them: the sender's and the recipient's staff, nobody else."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Q, QuerySet

from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.lifecycle import OUTCOME_OWED, TERMINAL
from referrals.models import Referral, ReferralEvent

if TYPE_CHECKING:
    from network.models import User
    from network.permissions import ObjectPermissionChecker


def referrals_visible(*, user: User, organization: Organization) -> QuerySet[Referral]:
    """Referrals ``organization`` sent (for its clinic staff) or received (for its agency staff,
    drafts excepted); none for anyone else."""
    condition = Q(pk__in=[])
    if organization.sends_referrals and user_has_org_perm(
        user, OrgPerm.SEND_REFERRALS, organization
    ):
        condition |= Q(sender=organization)
    if organization.receives_referrals and user_has_org_perm(
        user, OrgPerm.RECEIVE_REFERRALS, organization
    ):
        condition |= Q(agency=organization) & ~Q(status="draft")
    return Referral.objects.filter(condition)


def referral_inbox(
    *,
    user: User,
    organization: Organization,
    status: str | None = None,
    checker: ObjectPermissionChecker | None = None,
) -> QuerySet[Referral]:
    """Referrals the agency received, soonest due first, with what a list row shows.
    ``checker`` (the request's) answers the permission from its cache."""
    if not organization.receives_referrals or not user_has_org_perm(
        user, OrgPerm.RECEIVE_REFERRALS, organization, checker=checker
    ):
        return Referral.objects.none()
    qs = Referral.objects.filter(agency=organization).exclude(status="draft")
    if status == "open":
        qs = qs.exclude(status__in=TERMINAL)
    elif status:
        qs = qs.filter(status=status)
    return qs.select_related("sender").order_by("response_due_at", "pk")


def referral_timeline(*, referral: Referral) -> QuerySet[ReferralEvent]:
    """The referral's events, oldest first, with their authors (call after checking access)."""
    return referral.events.select_related("actor", "organization").order_by("at", "pk")


def referrals_listed(
    *,
    user: User,
    organization: Organization,
    now: datetime,
    direction: str | None = None,
    statuses: Sequence[str] = (),
    category: str = "",
    overdue: bool | None = None,
    updated_after: datetime | None = None,
    sent_from: date | None = None,
    sent_to: date | None = None,
    order: str = "-created_at",
) -> QuerySet[Referral]:
    """The referrals the organization sent or received that ``user`` may see (those of
    ``referrals_visible``), filtered (every filter combines as AND; ``direction`` "sent" or
    "received"; sent dates are days in the network's time zone), in ``order`` (a field of
    ``LIST_ORDERS``, newest first with "-"), with their sender and agency."""
    qs = referrals_visible(user=user, organization=organization)
    if direction == "sent":
        qs = qs.filter(sender=organization)
    elif direction == "received":
        qs = qs.filter(agency=organization)
    if statuses:
        qs = qs.filter(status__in=list(statuses))
    if category:
        if connection.features.supports_json_field_contains:
            qs = qs.filter(categories__contains=[category])
        else:  # SQLite: the JSON list's text holds each code quoted
            qs = qs.filter(categories__icontains=f'"{category}"')
    if overdue is not None:
        late = Q(status="requested", response_due_at__lt=now) | Q(
            status__in=OUTCOME_OWED, outcome_due_at__lt=now
        )
        qs = qs.filter(late) if overdue else qs.exclude(late)
    if updated_after is not None:
        qs = qs.filter(updated_at__gt=updated_after)
    tz = ZoneInfo(organization.network.time_zone)
    # The calendar's first and last days bound nothing (and their midnights may not fit UTC).
    if sent_from is not None and sent_from > date.min:
        qs = qs.filter(sent_at__gte=datetime.combine(sent_from, time.min, tz))
    if sent_to is not None:
        if sent_to >= date.max:
            qs = qs.filter(sent_at__isnull=False)
        else:
            qs = qs.filter(sent_at__lt=datetime.combine(sent_to + timedelta(days=1), time.min, tz))
    if order not in LIST_ORDERS:
        raise ValueError(f"Unknown order {order!r}.")
    tie = "-pk" if order.startswith("-") else "pk"
    return qs.select_related("sender", "agency").order_by(order, tie)


LIST_ORDERS: frozenset[str] = frozenset({"-created_at", "created_at", "-updated_at", "updated_at"})
