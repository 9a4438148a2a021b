"""Roles, permissions and the checks every view relies on.

This is the only module that talks to django-guardian. A membership's role is granted as object
permissions on its Organization (or, for network admins, on its Network); the grants are derived
from memberships by ``permissions_sync`` and never edited by hand.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import get_objects_for_user
from wagtail.permission_policies.base import BasePermissionPolicy

from .models import (
    Membership,
    Network,
    NetworkUserObjectPermission,
    Organization,
    OrganizationUserObjectPermission,
    Role,
)

if TYPE_CHECKING:
    from .models import User

    Actor = User | AnonymousUser


class OrgPerm(enum.StrEnum):
    """Permissions held on an Organization."""

    VIEW = "view_organization"
    SEND_REFERRALS = "send_referrals"
    RECEIVE_REFERRALS = "receive_referrals"
    UPDATE_CAPACITY = "update_capacity"
    EDIT_LISTING = "edit_listing"
    MANAGE_MEMBERS = "manage_members"


class NetworkPerm(enum.StrEnum):
    """Permissions held on a Network."""

    VIEW = "view_network"
    ADMINISTER = "administer_network"


_CLINIC_STAFF = {OrgPerm.VIEW, OrgPerm.SEND_REFERRALS}
_AGENCY_STAFF = {OrgPerm.VIEW, OrgPerm.RECEIVE_REFERRALS, OrgPerm.UPDATE_CAPACITY}

# The whole role model in one table: what each role may do on its organization or network.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.CLINIC_STAFF: frozenset(_CLINIC_STAFF),
    Role.CLINIC_ADMIN: frozenset(_CLINIC_STAFF | {OrgPerm.MANAGE_MEMBERS}),
    Role.AGENCY_STAFF: frozenset(_AGENCY_STAFF),
    Role.AGENCY_ADMIN: frozenset(_AGENCY_STAFF | {OrgPerm.MANAGE_MEMBERS, OrgPerm.EDIT_LISTING}),
    Role.NETWORK_ADMIN: frozenset({NetworkPerm.VIEW, NetworkPerm.ADMINISTER}),
}


# Which guardian table holds grants on which model (direct foreign keys, no generic relation).
_GRANT_TABLES: dict[
    type[Organization] | type[Network],
    type[OrganizationUserObjectPermission] | type[NetworkUserObjectPermission],
] = {
    Organization: OrganizationUserObjectPermission,
    Network: NetworkUserObjectPermission,
}


def permissions_sync(*, user: User, target: Organization | Network) -> None:
    """Make the user's guardian grants on one organization or network match their memberships.

    Runs inside the service transaction that changed a membership; idempotent.
    """
    if isinstance(target, Organization):
        memberships = Membership.objects.filter(user=user, organization=target)
    else:
        memberships = Membership.objects.filter(
            user=user, network=target, organization__isnull=True
        )
    wanted: set[str] = set().union(
        *(ROLE_PERMISSIONS[role] for role in memberships.values_list("role", flat=True))
    )
    model = type(target)
    ids = dict(
        Permission.objects.filter(
            content_type__app_label=model._meta.app_label,
            content_type__model=model._meta.model_name,
        ).values_list("codename", "id")
    )
    table: Any = _GRANT_TABLES[model]  # either direct foreign-key table; both have the same shape
    grants = table.objects.filter(user=user, content_object_id=target.pk)
    grants.exclude(permission_id__in=[ids[code] for code in wanted]).delete()
    have = set(grants.values_list("permission__codename", flat=True))
    table.objects.bulk_create(
        table(user=user, content_object_id=target.pk, permission_id=ids[code])
        for code in sorted(wanted - have)
    )


class UserGrantChecker(ObjectPermissionChecker):
    """guardian's per-request checker without its query of group grants: Handoff grants object
    permissions to users only (``permissions_sync``, from memberships; there is no group grant
    table), so that second query of every first check could only ever find nothing."""

    def get_group_perms(self, obj: Any) -> QuerySet[Any, str]:
        return Permission.objects.none().values_list("codename", flat=True)

    def grants_from(self, memberships: Iterable[Membership]) -> None:
        """Know the grants on the organizations and networks of ``memberships`` (all of the
        user's, as the request read them) without a query: ``permissions_sync`` derives every
        grant from the memberships on its target, in the transaction that changes one, so the
        grants on a target are the union of its memberships' ``ROLE_PERMISSIONS``. Any other
        object is still asked of the grant table. Nothing is seeded for an inactive user (who
        has no permission) or a superuser (who has every one, as guardian answers). Like
        guardian's own cache, it holds for one request: a view that changes the acting user's
        memberships redirects before anything is checked again."""
        user = self.user
        if user is None or not user.is_active or user.is_superuser:
            return
        granted: dict[tuple[type[Organization] | type[Network], int], set[str]] = {}
        for membership in memberships:
            if membership.user_id != user.pk:
                continue
            target: tuple[type[Organization] | type[Network], int] = (
                (Organization, membership.organization_id)
                if membership.organization_id is not None
                else (Network, membership.network_id)
            )
            granted.setdefault(target, set()).update(ROLE_PERMISSIONS[membership.role])
        for (model, pk), codenames in granted.items():
            key = (ContentType.objects.get_for_model(model).pk, str(pk))
            self._obj_perms_cache[key] = sorted(codenames)


def checker_for(
    user: Actor, *, memberships: Iterable[Membership] | None = None
) -> ObjectPermissionChecker:
    """A per-request permission cache: repeated checks on the same object cost no queries, and
    the first costs one. With the user's ``memberships`` (``memberships_for_user``, read once a
    request), checks on their organizations and networks cost none."""
    checker = UserGrantChecker(cast(Any, user))
    if memberships is not None:
        checker.grants_from(memberships)
    return checker


def user_has_org_perm(
    user: Actor,
    perm: OrgPerm,
    organization: Organization,
    *,
    checker: ObjectPermissionChecker | None = None,
) -> bool:
    if not user.is_active:
        return False
    if checker is not None:
        return checker.has_perm(perm.value, organization)
    if user.is_superuser:
        return True  # as guardian's checker answers for an active superuser
    # One question, one indexed query: cheaper than building a checker for a single answer.
    return OrganizationUserObjectPermission.objects.filter(
        user_id=user.pk, content_object=organization, permission__codename=perm.value
    ).exists()


def user_has_network_perm(
    user: Actor,
    perm: NetworkPerm,
    network: Network,
    *,
    checker: ObjectPermissionChecker | None = None,
) -> bool:
    if not user.is_active:
        return False
    return (checker or checker_for(user)).has_perm(perm.value, network)


def organizations_with_perm(
    user: Actor, perm: OrgPerm, queryset: QuerySet[Organization] | None = None
) -> QuerySet[Organization]:
    """Organizations (from ``queryset``) on which the user holds ``perm``."""
    qs = queryset if queryset is not None else Organization.objects.all()
    if not user.is_active:
        return qs.none()
    return get_objects_for_user(user, perm.value, klass=qs, accept_global_perms=False)


def networks_with_perm(user: Actor, perm: NetworkPerm) -> QuerySet[Network]:
    if not user.is_active:
        return Network.objects.none()
    return get_objects_for_user(user, perm.value, klass=Network, accept_global_perms=False)


def administered_network_ids(user: Actor) -> frozenset[int]:
    """The networks the user administers. Cached on the user object, which lives for one
    request: the admin menu, the permission policies and the views all ask."""
    if not user.is_active:
        return frozenset()
    cached: frozenset[int] | None = getattr(user, "_handoff_administered_networks", None)
    if cached is None:
        cached = frozenset(
            networks_with_perm(user, NetworkPerm.ADMINISTER).values_list("pk", flat=True)
        )
        user._handoff_administered_networks = cached  # type: ignore[attr-defined]
    return cached


def administered_networks(user: Actor) -> QuerySet[Network]:
    """Every network for an active superuser, else those the user administers."""
    if user.is_active and user.is_superuser:
        return Network.objects.all()
    return Network.objects.filter(pk__in=administered_network_ids(user))


def permissions_prefetch(
    checker: ObjectPermissionChecker, organizations: Iterable[Organization]
) -> None:
    """Load the user's grants on many organizations in one query, for lists that check each row."""
    checker.prefetch_perms(cast(Any, list(organizations)))


class NetworkScopedPolicy(BasePermissionPolicy):
    """Wagtail permission policy for models that belong to a network (``network`` field).

    Network admins may do everything with the instances of the networks they administer, and
    nothing with any other network's; superusers may do everything.
    """

    def user_has_permission(self, user: Actor, action: str) -> bool:
        if not user.is_active:
            return False
        return bool(user.is_superuser or administered_network_ids(user))

    def user_has_any_permission(self, user: Actor, actions: Iterable[str]) -> bool:
        return self.user_has_permission(user, "")

    def instances_user_has_any_permission_for(
        self, user: Actor, actions: Iterable[str]
    ) -> QuerySet[Any]:
        manager = self.model._default_manager
        if not user.is_active:
            return manager.none()
        if user.is_superuser:
            return manager.all()
        return manager.filter(network__in=administered_network_ids(user))

    def user_has_any_permission_for_instance(
        self, user: Actor, actions: Iterable[str], instance: Any
    ) -> bool:
        if not user.is_active:
            return False
        if user.is_superuser:
            return True
        return instance.network_id in administered_network_ids(user)

    def user_has_permission_for_instance(self, user: Actor, action: str, instance: Any) -> bool:
        return self.user_has_any_permission_for_instance(user, [action], instance)

    def users_with_any_permission(self, actions: Iterable[str]) -> QuerySet[Any]:
        from .models import User

        return User.objects.filter(
            Q(memberships__role=Role.NETWORK_ADMIN) | Q(is_superuser=True), is_active=True
        ).distinct()

    def users_with_permission(self, action: str) -> QuerySet[Any]:
        return self.users_with_any_permission([action])


def organizations_users_with_perm(organization: Organization, perm: OrgPerm) -> QuerySet[User]:
    """Active people holding ``perm`` on the organization: its systems (``ApiClient``) hear
    through their FHIR subscriptions, not through notifications."""
    from .models import User

    # One grant per (user, permission, organization): no DISTINCT needed.
    return User.objects.filter(
        is_active=True,
        api_client__isnull=True,
        organizationuserobjectpermission__content_object=organization,
        organizationuserobjectpermission__permission__codename=perm.value,
    )


def networks_users_with_perm(network: Network, perm: NetworkPerm) -> QuerySet[User]:
    """Active users holding ``perm`` on the network (its admins, for ``ADMINISTER``)."""
    from .models import User

    return User.objects.filter(
        is_active=True,
        networkuserobjectpermission__content_object=network,
        networkuserobjectpermission__permission__codename=perm.value,
    )


def organizations_with_active_holders(
    organizations: Iterable[Organization], perm: OrgPerm
) -> frozenset[int]:
    """Ids of the ``organizations`` where at least one active user holds ``perm`` (one
    query for any number of organizations)."""
    ids = [org.pk for org in organizations]
    if not ids:
        return frozenset()
    return frozenset(
        OrganizationUserObjectPermission.objects.filter(
            content_object_id__in=ids, permission__codename=perm.value, user__is_active=True
        )
        .values_list("content_object_id", flat=True)
        .distinct()
    )
