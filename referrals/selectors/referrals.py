"""Referrals as each side sees them: the sender's and the recipient's staff, nobody else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.lifecycle import TERMINAL
from referrals.models import Referral, ReferralEvent

if TYPE_CHECKING:
    from network.models import User


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
    *, user: User, organization: Organization, status: str | None = None
) -> QuerySet[Referral]:
    """Referrals the agency received, soonest due first, with what a list row shows."""
    if not organization.receives_referrals or not user_has_org_perm(
        user, OrgPerm.RECEIVE_REFERRALS, organization
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
