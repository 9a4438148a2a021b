"""Every non-trivial read of tenancy data; each takes the actor and returns only what it may see."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet

from .models import Invitation, InvitationStatus, Membership, Network, Organization, Role
from .permissions import NetworkPerm, OrgPerm, user_has_network_perm, user_has_org_perm

if TYPE_CHECKING:
    from .models import User
    from .permissions import ObjectPermissionChecker


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships with their network and organization (and the organization's
    network, which the pages read through it), in switcher order."""
    if not user.is_active:
        return Membership.objects.none()
    return (
        Membership.objects.filter(user=user)
        .select_related("network", "organization__network")
        .order_by("network__name", "organization__name", "role")
    )


def network_is_visible(
    *, user: User, network: Network, memberships: Iterable[Membership] | None = None
) -> bool:
    """Whether the user belongs to the network through any membership (or is a superuser).
    ``memberships``: the user's, as this request read them (``request.memberships``), which
    answer without a query."""
    if user.is_superuser:
        return True
    if memberships is not None:
        return any(
            membership.user_id == user.pk and membership.network_id == network.pk
            for membership in memberships
        )
    return Membership.objects.filter(user=user, network=network).exists()


def organizations_visible(
    *,
    user: User,
    network: Network,
    kind: str | None = None,
    include_inactive: bool = False,
    memberships: Iterable[Membership] | None = None,
) -> QuerySet[Organization]:
    """Organizations of ``network`` that the user may see: all of them, if the user belongs to it
    (``memberships``: as ``network_is_visible``).

    Staff need each other's contact details to refer; nothing here is client data.
    """
    if not user.is_active or not network_is_visible(
        user=user, network=network, memberships=memberships
    ):
        return Organization.objects.none()
    qs = Organization.objects.filter(network=network).select_related("network")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    if kind == "clinic":
        qs = qs.filter(kind__in=["clinic", "both"])
    elif kind == "agency":
        qs = qs.filter(kind__in=["agency", "both"])
    return qs.order_by("name")


def members_manageable(
    *, user: User, organization: Organization, checker: ObjectPermissionChecker | None = None
) -> bool:
    """Whether the user may list, add and remove the organization's members."""
    return user_has_org_perm(
        user, OrgPerm.MANAGE_MEMBERS, organization, checker=checker
    ) or user_has_network_perm(user, NetworkPerm.ADMINISTER, organization.network, checker=checker)


def organization_members(
    *, user: User, organization: Organization, checker: ObjectPermissionChecker | None = None
) -> QuerySet[Membership]:
    """The organization's memberships with their users, if the user may manage them; else none."""
    if not members_manageable(user=user, organization=organization, checker=checker):
        return Membership.objects.none()
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user__username")
    )


def invitations_pending_for_user(*, user: User, now: datetime) -> QuerySet[Invitation]:
    """The invitations addressed to this account that it can still answer, newest first."""
    return (
        Invitation.objects.filter(user=user, status=InvitationStatus.PENDING, expires_at__gt=now)
        .select_related("organization", "network", "invited_by")
        .order_by("-created_at")
    )


def organization_invitations_pending(
    *,
    user: User,
    organization: Organization,
    now: datetime,
    checker: ObjectPermissionChecker | None = None,
) -> QuerySet[Invitation]:
    """The organization's unanswered, unexpired invitations for its member managers; else none.

    Rows carry the address the inviter typed; callers must not show the invited account.
    """
    if not members_manageable(user=user, organization=organization, checker=checker):
        return Invitation.objects.none()
    return Invitation.objects.filter(
        organization=organization, status=InvitationStatus.PENDING, expires_at__gt=now
    ).order_by("email")


def network_admins(*, user: User, network: Network) -> QuerySet[Membership]:
    """The network's admins, for its other admins; else none."""
    if not user_has_network_perm(user, NetworkPerm.ADMINISTER, network):
        return Membership.objects.none()
    return (
        Membership.objects.filter(network=network, role=Role.NETWORK_ADMIN)
        .select_related("user")
        .order_by("user__last_name", "user__username")
    )


def network_overview(*, user: User, network: Network) -> QuerySet[Organization]:
    """Every organization of the network with member counts per role, for its admins; else none."""
    if not user_has_network_perm(user, NetworkPerm.ADMINISTER, network):
        return Organization.objects.none()
    return (
        Organization.objects.filter(network=network)
        .annotate(
            member_count=Count("memberships"),
            admin_count=Count(
                "memberships",
                filter=Q(memberships__role__in=[Role.CLINIC_ADMIN, Role.AGENCY_ADMIN]),
            ),
        )
        .order_by("kind", "name")
    )
