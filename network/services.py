"""Every write to networks, organizations, memberships, clients, screenings and referrals:
one transaction per function."""

from __future__ import annotations

import logging
import zoneinfo
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page, Site

from cms.models import HomePage

from . import tasks
from .models import (
    Invitation,
    InvitationStatus,
    Membership,
    Network,
    Organization,
    OrganizationKind,
    Role,
    User,
)
from .permissions import (
    NetworkPerm,
    OrgPerm,
    permissions_sync,
    user_has_network_perm,
    user_has_org_perm,
)
from .signals import membership_changed

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

# What a network's admin group may do with its own page tree and collection, and nothing else.
_PAGE_PERMISSIONS = ["add_page", "change_page", "publish_page", "lock_page", "unlock_page"]
_COLLECTION_PERMISSIONS = [
    ("wagtailimages", "add_image"),
    ("wagtailimages", "change_image"),
    ("wagtailimages", "choose_image"),
    ("wagtaildocs", "add_document"),
    ("wagtaildocs", "change_document"),
    ("wagtaildocs", "choose_document"),
]


@transaction.atomic
def network_create(
    *,
    name: str,
    slug: str,
    hostname: str,
    port: int = 80,
    time_zone: str = "America/Los_Angeles",
    is_default_site: bool = False,
    intro: str = "",
) -> Network:
    """Create a tenant with its home page, Wagtail site, media collection and admin group."""
    errors: dict[str, str] = {}
    if Network.objects.filter(slug=slug).exists():
        errors["slug"] = _("A network with this slug already exists.")
    if Network.objects.filter(name=name).exists():
        errors["name"] = _("A network with this name already exists.")
    if Site.objects.filter(hostname=hostname, port=port).exists():
        errors["hostname"] = _("Another site already answers at %(host)s:%(port)s.") % {
            "host": hostname,
            "port": port,
        }
    if is_default_site and Site.objects.filter(is_default_site=True).exists():
        errors["is_default_site"] = _("Another site is already the default site.")
    _validate_time_zone(time_zone, errors)
    if errors:
        raise ValidationError(errors)

    home = HomePage(title=name, slug=slug, intro=intro)
    Page.get_first_root_node().add_child(instance=home)
    site = Site.objects.create(
        hostname=hostname,
        port=port,
        root_page=home,
        site_name=name,
        is_default_site=is_default_site,
    )
    collection = Collection.get_first_root_node().add_child(name=name)
    group = page_editors_group_create(
        name=f"{name} admins", page=home, permissions=_PAGE_PERMISSIONS
    )
    for app_label, codename in _COLLECTION_PERMISSIONS:
        GroupCollectionPermission.objects.create(
            group=group,
            collection=collection,
            permission=Permission.objects.get(content_type__app_label=app_label, codename=codename),
        )
    network = Network(
        name=name,
        slug=slug,
        time_zone=time_zone,
        site=site,
        admin_group=group,
        collection=collection,
    )
    network.full_clean()
    network.save()
    return network


def page_editors_group_create(*, name: str, page: Page, permissions: Sequence[str]) -> Group:
    """A Wagtail group that may enter the admin and act (``permissions``) on ``page``'s subtree."""
    group = Group.objects.create(name=name[:150])
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")
    )
    GroupPagePermission.objects.bulk_create(
        GroupPagePermission(group=group, page=page, permission=permission)
        for permission in Permission.objects.filter(
            content_type__app_label="wagtailcore", codename__in=permissions
        )
    )
    return group


def _validate_time_zone(time_zone: str, errors: dict[str, str]) -> None:
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        errors["time_zone"] = _("Unknown time zone %(tz)s.") % {"tz": time_zone}


ORGANIZATION_CONTACT_FIELDS = (
    "description",
    "phone",
    "email",
    "website",
    "address_1",
    "city",
    "state",
    "postal_code",
)
ORGANIZATION_FIELDS = ("name", "kind", *ORGANIZATION_CONTACT_FIELDS, "is_active")


@transaction.atomic
def organization_create(
    *,
    network: Network,
    name: str,
    kind: str,
    slug: str = "",
    by: User | None = None,
    **details: Any,
) -> Organization:
    """Add a clinic or agency to a network. ``by`` must administer the network (None: system)."""
    if by is not None and not user_has_network_perm(by, NetworkPerm.ADMINISTER, network):
        raise PermissionDenied(_("Only network admins can add organizations."))
    unknown = set(details) - set(ORGANIZATION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown organization fields: {sorted(unknown)}")
    organization = Organization(
        network=network, name=name, kind=kind, slug=slug or slugify(name)[:80], **details
    )
    organization.full_clean()
    organization.save()
    return organization


@transaction.atomic
def organization_update(
    *, organization: Organization, by: User | None = None, **changes: Any
) -> Organization:
    """Change an organization's details; ``by`` must administer its network (None: system)."""
    if by is not None and not user_has_network_perm(
        by, NetworkPerm.ADMINISTER, organization.network
    ):
        raise PermissionDenied(_("Only network admins can change organizations."))
    unknown = set(changes) - set(ORGANIZATION_FIELDS)
    if unknown:
        raise TypeError(f"Unknown organization fields: {sorted(unknown)}")
    if "kind" in changes and changes["kind"] != organization.kind:
        _check_kind_keeps_roles(organization, changes["kind"])
    for field, value in changes.items():
        setattr(organization, field, value)
    organization.full_clean()
    organization.save()
    return organization


def _check_kind_keeps_roles(organization: Organization, kind: str) -> None:
    allowed = Membership.ROLES_FOR_KIND.get(kind, frozenset())
    stranded = organization.memberships.exclude(role__in=allowed)
    if stranded.exists():
        raise ValidationError(
            {
                "kind": _(
                    "%(count)s member(s) hold roles that a %(kind)s cannot have; "
                    "change their roles first."
                )
                % {"count": stranded.count(), "kind": OrganizationKind(kind).label}
            }
        )


@transaction.atomic
def user_create(
    *,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
) -> User:
    """Create a person's account; without a password they set one from their invitation email."""
    email = User.objects.normalize_email(email)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("A user with this email address already exists.")})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user


def _authorize_membership_change(
    by: User | None, *, organization: Organization | None, network: Network
) -> None:
    if by is None:
        return
    if user_has_network_perm(by, NetworkPerm.ADMINISTER, network):
        return
    if organization is not None and user_has_org_perm(by, OrgPerm.MANAGE_MEMBERS, organization):
        return
    raise PermissionDenied(_("You are not allowed to manage these members."))


@transaction.atomic
def membership_grant(
    *,
    user: User,
    role: str,
    organization: Organization | None = None,
    network: Network | None = None,
    by: User | None = None,
    notify: bool = True,
) -> Membership:
    """Give a user a role in an organization (or make them a network admin), or change their role.

    Returns the membership; the user's object permissions are updated in the same transaction and
    (with ``notify``) the user is emailed once it commits.
    """
    if role not in Role.values:
        raise ValidationError({"role": _("Unknown role %(role)s.") % {"role": role}})
    if role == Role.NETWORK_ADMIN:
        if network is None or organization is not None:
            raise ValidationError(
                {"role": _("A network admin belongs to a network, not to an organization.")}
            )
    else:
        if organization is None:
            raise ValidationError({"organization": _("Choose the organization.")})
        if network is not None and network.pk != organization.network_id:
            raise ValidationError(
                {"organization": _("The organization belongs to another network.")}
            )
        network = organization.network
    _authorize_membership_change(by, organization=organization, network=network)
    if (
        by is not None
        and role == Role.NETWORK_ADMIN
        and not user_has_network_perm(by, NetworkPerm.ADMINISTER, network)
    ):
        raise PermissionDenied(_("Only network admins can appoint network admins."))

    if organization is not None:
        membership = Membership.objects.filter(user=user, organization=organization).first()
    else:
        membership = Membership.objects.filter(
            user=user, network=network, role=Role.NETWORK_ADMIN
        ).first()
    if membership is None:
        membership = Membership(user=user, network=network, organization=organization)
    elif membership.role == role:
        return membership
    membership.role = role
    membership.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            membership.save()
    except IntegrityError as exc:  # a concurrent grant for the same user and place
        raise ValidationError(
            _("This person was just given a role here; reload and retry.")
        ) from exc

    target: Organization | Network = organization if organization is not None else network
    permissions_sync(user=user, target=target)
    if role == Role.NETWORK_ADMIN:
        user.groups.add(network.admin_group)
    membership_changed.send(
        sender=Membership, user=user, organization=organization, network=network
    )
    if notify and user.email:
        membership_id = membership.pk
        transaction.on_commit(lambda: tasks.membership_notify_granted.delay(membership_id))
    return membership


@transaction.atomic
def membership_revoke(*, membership: Membership, by: User | None = None) -> None:
    """End a membership and withdraw every permission it granted."""
    _authorize_membership_change(
        by, organization=membership.organization, network=membership.network
    )
    if (
        by is not None
        and membership.role == Role.NETWORK_ADMIN
        and not user_has_network_perm(by, NetworkPerm.ADMINISTER, membership.network)
    ):
        raise PermissionDenied(_("Only network admins can remove network admins."))
    user, organization, network = membership.user, membership.organization, membership.network
    membership.delete()
    target: Organization | Network = organization if organization is not None else network
    permissions_sync(user=user, target=target)
    if membership.role == Role.NETWORK_ADMIN:
        user.groups.remove(network.admin_group)
    membership_changed.send(
        sender=Membership, user=user, organization=organization, network=network
    )


# --- invitations: nobody joins an organization without saying yes ----------------------------

INVITATION_DAYS = 14


class InvitationClosed(Exception):
    """The invitation expired, was already answered, or its inviter may no longer invite."""


def _free_username(email: str) -> str:
    """The address as username, suffixed if another account already holds that name."""
    base = email.lower()
    username, n = base, 1
    while User.objects.filter(username__iexact=username).exists():
        n += 1
        username = f"{base}-{n}"
    return username


@transaction.atomic
def invitation_create(
    *,
    organization: Organization,
    email: str,
    role: str,
    by: User | None,
    first_name: str = "",
    last_name: str = "",
    now: datetime | None = None,
) -> Invitation:
    """Invite whoever owns ``email`` to ``role`` at ``organization``; returns the invitation.

    The result does not depend on whether an account has the address: without one, an account
    without a password is created and its owner chooses one from the email. Either way nothing
    is granted until the person signs in and accepts; a pending invitation is renewed, not doubled.
    The email is sent once the transaction commits.
    """
    now = now or timezone.now()
    if role not in Membership.ROLES_FOR_KIND[organization.kind]:
        raise ValidationError(
            {
                "role": _("A %(kind)s cannot have the role %(role)s.")
                % {"kind": organization.get_kind_display(), "role": role}
            }
        )
    _authorize_membership_change(by, organization=organization, network=organization.network)
    email = User.objects.normalize_email(email).strip()
    user = User.objects.filter(email__iexact=email).first() or user_create(
        username=_free_username(email), email=email, first_name=first_name, last_name=last_name
    )
    invitation = (
        Invitation.objects.select_for_update()
        .filter(user=user, organization=organization, status=InvitationStatus.PENDING)
        .first()
    ) or Invitation(user=user, organization=organization, network=organization.network)
    invitation.email = email
    invitation.role = role
    invitation.invited_by = by
    invitation.expires_at = now + timedelta(days=INVITATION_DAYS)
    try:
        with transaction.atomic():
            invitation.save()
    except IntegrityError as exc:  # a concurrent invitation of the same person here
        raise ValidationError(_("This person was just invited here; reload and retry.")) from exc
    invitation_id = invitation.pk
    transaction.on_commit(lambda: tasks.invitation_notify.delay(invitation_id))
    return invitation


def _invitation_open(invitation_id: int, by: User, now: datetime) -> Invitation:
    invitation = (
        # of=self: PostgreSQL cannot lock the nullable side (invited_by) of an outer join.
        Invitation.objects.select_for_update(of=("self",))
        .select_related("organization", "network", "invited_by")
        .get(pk=invitation_id)
    )
    if invitation.user_id != by.pk:
        raise PermissionDenied(_("This invitation is addressed to someone else."))
    if invitation.status != InvitationStatus.PENDING or invitation.expires_at <= now:
        raise InvitationClosed(_("This invitation has expired or was already answered."))
    return invitation


@transaction.atomic
def invitation_accept(
    *, invitation: Invitation, by: User, now: datetime | None = None
) -> Membership:
    """The invited person says yes: they get the role offered; returns the membership.

    Refused (``InvitationClosed``) when expired, already answered, or when the inviter can no
    longer manage the organization's members.
    """
    now = now or timezone.now()
    invitation = _invitation_open(invitation.pk, by, now)
    if invitation.invited_by is not None:
        try:
            _authorize_membership_change(
                invitation.invited_by,
                organization=invitation.organization,
                network=invitation.network,
            )
        except PermissionDenied as exc:
            raise InvitationClosed(_("The person who invited you can no longer do so.")) from exc
    if not invitation.organization.is_active:
        raise InvitationClosed(_("This organization no longer takes part in the network."))
    membership = membership_grant(
        user=by, role=invitation.role, organization=invitation.organization, notify=False
    )
    invitation.status = InvitationStatus.ACCEPTED
    invitation.responded_at = now
    invitation.save(update_fields=["status", "responded_at"])
    return membership


@transaction.atomic
def invitation_decline(*, invitation: Invitation, by: User, now: datetime | None = None) -> None:
    """The invited person says no: nothing is granted and the invitation is closed."""
    now = now or timezone.now()
    invitation = _invitation_open(invitation.pk, by, now)
    invitation.status = InvitationStatus.DECLINED
    invitation.responded_at = now
    invitation.save(update_fields=["status", "responded_at"])


@transaction.atomic
def invitation_withdraw(*, invitation: Invitation, by: User | None) -> None:
    """An admin of the organization takes back an unanswered invitation; it can no longer be
    accepted."""
    _authorize_membership_change(
        by, organization=invitation.organization, network=invitation.network
    )
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.status != InvitationStatus.PENDING:
        raise InvitationClosed(_("This invitation was already answered."))
    locked.status = InvitationStatus.WITHDRAWN
    locked.responded_at = timezone.now()
    locked.save(update_fields=["status", "responded_at"])


def membership_use(*, membership: Membership, now: datetime | None = None) -> None:
    """Remember that the person now acts as this membership: their next sign-in starts here."""
    Membership.objects.filter(pk=membership.pk).update(last_used_at=now or timezone.now())
