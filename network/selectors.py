"""Every non-trivial read of tenancy data; each takes the actor and returns only what it may see."""

from __future__ import annotations

import difflib
from datetime import date
from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet

from .lifecycle import TERMINAL
from .models import Client, Membership, Network, Organization, Referral, ReferralEvent, Role
from .permissions import NetworkPerm, OrgPerm, user_has_network_perm, user_has_org_perm

if TYPE_CHECKING:
    from .models import User
    from .permissions import ObjectPermissionChecker


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships with their network and organization, in switcher order."""
    if not user.is_active:
        return Membership.objects.none()
    return (
        Membership.objects.filter(user=user)
        .select_related("network", "organization")
        .order_by("network__name", "organization__name", "role")
    )


def network_is_visible(*, user: User, network: Network) -> bool:
    """Whether the user belongs to the network through any membership (or is a superuser)."""
    return user.is_superuser or Membership.objects.filter(user=user, network=network).exists()


def organizations_visible(
    *, user: User, network: Network, kind: str | None = None, include_inactive: bool = False
) -> QuerySet[Organization]:
    """Organizations of ``network`` that the user may see: all of them, if the user belongs to it.

    Staff need each other's contact details to refer; nothing here is client data.
    """
    if not user.is_active or not network_is_visible(user=user, network=network):
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


# --- clients and referrals -------------------------------------------------------------------

DUPLICATE_NAME_SIMILARITY = 0.8


def clients_visible(*, user: User, organization: Organization) -> QuerySet[Client]:
    """Clients of ``organization`` when ``user`` is its clinic staff; nobody else's."""
    if not organization.sends_referrals or not user_has_org_perm(
        user, OrgPerm.SEND_REFERRALS, organization
    ):
        return Client.objects.none()
    return Client.objects.filter(organization=organization)


def client_duplicates(
    *,
    user: User,
    organization: Organization,
    first_name: str,
    last_name: str,
    date_of_birth: date,
) -> list[Client]:
    """Clients ``user`` may see with the same date of birth and a similar name.

    Only the clinic's own clients are compared: another clinic's clients are not visible to it,
    so the check cannot reveal who they serve.
    """
    same_birthday = clients_visible(user=user, organization=organization).filter(
        date_of_birth=date_of_birth
    )
    return [
        client
        for client in same_birthday
        if names_similar((first_name, last_name), (client.first_name, client.last_name))
    ]


def names_similar(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """(first, last) pairs that may be one person: the same last name and first initial
    ("Maria Lopez" / "M. López"), or close spellings of the whole name ("Jon Smyth" / "John
    Smith"). Case, accents and punctuation are ignored."""
    from search.text import fold

    first_a, last_a = (" ".join(fold(p).replace("-", " ").split()) for p in a)
    first_b, last_b = (" ".join(fold(p).replace("-", " ").split()) for p in b)
    if last_a == last_b and first_a[:1] == first_b[:1]:
        return True
    whole = difflib.SequenceMatcher(None, f"{last_a} {first_a}", f"{last_b} {first_b}")
    return whole.ratio() >= DUPLICATE_NAME_SIMILARITY


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
