"""Every write to networks, organizations, memberships, clients, screenings and referrals:
one transaction per function."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from wagtail.models import Collection, GroupCollectionPermission, GroupPagePermission, Page, Site

from cms.models import HomePage
from referrals.models import (
    Channel,
    Client,
    EventKind,
    Notification,
    Referral,
    ReferralEvent,
    ReferralOutcome,
    ReferralStatus,
    Screening,
    Urgency,
)

from . import tasks
from .dashboard import dashboard_changed
from .deadlines import business_hours_after
from .lifecycle import OUTCOME_OWED, OUTCOME_REQUIRED, TERMINAL, Refusal, Side, transition_refusal
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
    organizations_users_with_perm,
    permissions_sync,
    user_has_network_perm,
    user_has_org_perm,
)
from .signals import membership_changed

if TYPE_CHECKING:
    from directory.models import Location, ServicePage

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
    import zoneinfo

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


# --- clients and screening -------------------------------------------------------------------


class PossibleDuplicate(Exception):
    """A client with a similar name and the same date of birth exists; staff must choose."""

    def __init__(self, candidates: list[Client]) -> None:
        super().__init__(_("A client with a similar name and the same date of birth exists."))
        self.candidates = candidates


_CLIENT_FIELDS = (
    "phone",
    "email",
    "address_1",
    "city",
    "state",
    "postal_code",
    "preferred_language",
    "external_id",
    "contact_preference",
    "contact_notes",
    "do_not_contact",
)


def _clinic_staff_check(by: User, organization: Organization) -> None:
    if not organization.sends_referrals or not user_has_org_perm(
        by, OrgPerm.SEND_REFERRALS, organization
    ):
        raise PermissionDenied(_("Only the clinic's staff may do this."))


@transaction.atomic
def client_create(
    *,
    organization: Organization,
    by: User,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    confirm_new: bool = False,
    **details: Any,
) -> Client:
    """A new client of ``organization``.

    Raises PossibleDuplicate (listing the similar clients ``by`` may see) unless ``confirm_new``;
    ValidationError for bad input.
    """
    from .selectors import client_duplicates

    _clinic_staff_check(by, organization)
    unknown = set(details) - set(_CLIENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown client fields: {sorted(unknown)}")
    client = Client(
        network=organization.network,
        organization=organization,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        created_by=by,
        **details,
    )
    client.full_clean(exclude=["network", "organization", "created_by"])
    if date_of_birth > timezone.localdate():
        raise ValidationError({"date_of_birth": _("The date of birth is in the future.")})
    if not confirm_new:
        candidates = client_duplicates(
            user=by,
            organization=organization,
            first_name=client.first_name,
            last_name=client.last_name,
            date_of_birth=date_of_birth,
        )
        if candidates:
            raise PossibleDuplicate(candidates)
    client.save()
    return client


@transaction.atomic
def screening_record(
    *,
    client: Client,
    by: User,
    organization: Organization,
    answers: dict[str, Any],
    performed_at: datetime | None = None,
) -> Screening:
    """Score and store an AHC HRSN screening; InvalidScreening (a ValueError) lists bad answers."""
    from .screening import score_ahc_hrsn

    _clinic_staff_check(by, organization)
    if client.organization_id != organization.pk:
        raise PermissionDenied(_("Only the client's clinic may screen them."))
    result = score_ahc_hrsn(answers)
    return Screening.objects.create(
        client=client,
        organization=organization,
        performed_by=by,
        performed_at=performed_at or timezone.now(),
        answers={k: list(v) if isinstance(v, list | tuple) else v for k, v in answers.items()},
        positive_categories=sorted(result.positive_categories),
        safety_score=result.safety_score,
        incomplete=sorted(result.incomplete),
    )


# --- referrals -------------------------------------------------------------------------------


class ReferralError(Exception):
    """A referral change was refused; ``code`` for programs, the message for people."""

    code = "refused"


class ConsentRequired(ReferralError):
    code = "consent_required"


class AgreementMissing(ReferralError):
    code = "agreement_missing"


class TransitionNotAllowed(ReferralError):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.code = refusal.code


class StaleVersion(ReferralError):
    """The referral changed since the caller read it; ``current`` is the state now."""

    code = "stale_version"

    def __init__(self, current: Referral) -> None:
        super().__init__(
            _("Someone else changed this referral (it is now %(status)s); review and retry.")
            % {"status": current.get_status_display()}
        )
        self.current = current


class IdempotencyConflict(ReferralError):
    code = "idempotency_conflict"


@dataclass(frozen=True)
class Target:
    """Where a referral goes: a service, at one of its locations (or none)."""

    service: ServicePage
    location: Location | None = None


def agency_of(service: ServicePage) -> Organization:
    """The agency organization whose listing the service is under (one query)."""
    agency = Organization.objects.filter(
        listing__path=service.path[: -service.steplen], listing__depth=service.depth - 1
    ).first()
    if agency is None:
        raise AgreementMissing(
            _("%(service)s is not linked to an agency organization; contact it directly.")
            % {"service": service.title}
        )
    return agency


def referrals_send(
    *,
    client: Client,
    by: User,
    sender: Organization,
    targets: Sequence[Target],
    categories: Sequence[str],
    idempotency_key: str,
    urgency: str = Urgency.ROUTINE,
    note: str = "",
    now: datetime | None = None,
) -> list[Referral]:
    """Send one client's need to several services at once, all or none.

    Each target gets its own referral, keyed ``<idempotency_key>/<service id>`` so that a
    repeated request returns the same referrals.
    """
    # Checked before the suffix is added: "/<service id>" alone must not pass for a key.
    key = idempotency_key.strip()
    if not key or len(key) > 80:
        raise ValidationError({"idempotency_key": _("An idempotency key of 1 to 80 characters.")})
    if not targets:
        raise ValidationError(_("Choose at least one service."))
    if len({t.service.pk for t in targets}) != len(targets):
        raise ValidationError(_("The same service is chosen twice."))
    with transaction.atomic():
        return [
            referral_send(
                client=client,
                by=by,
                sender=sender,
                service=t.service,
                location=t.location,
                categories=categories,
                idempotency_key=f"{key}/{t.service.pk}",
                urgency=urgency,
                note=note,
                now=now,
            )
            for t in targets
        ]


def referral_send(
    *,
    client: Client,
    by: User,
    sender: Organization,
    service: ServicePage,
    categories: Sequence[str],
    idempotency_key: str,
    location: Location | None = None,
    urgency: str = Urgency.ROUTINE,
    note: str = "",
    now: datetime | None = None,
) -> Referral:
    """Send a referral (status requested) and notify the agency.

    Idempotent: the same ``idempotency_key`` from the same sender returns the referral it
    created. Refuses (ConsentRequired) without an active consent covering the agency and every
    category, (AgreementMissing) without an agreement in force, and ValidationError for bad
    input. Nothing is written when it refuses.
    """
    key = idempotency_key.strip()
    if not key or len(key) > 100:
        raise ValidationError({"idempotency_key": _("An idempotency key of 1 to 100 characters.")})
    _clinic_staff_check(by, sender)
    try:
        return _referral_create(
            client=client,
            by=by,
            sender=sender,
            service=service,
            categories=categories,
            idempotency_key=key,
            location=location,
            urgency=urgency,
            note=note,
            now=now,
        )
    except (ValidationError, PermissionDenied, ReferralError, IntegrityError):
        # A key already used answers with its referral (or a conflict), whatever changed
        # since; an IntegrityError is the same key racing in from another request. Looked up
        # only here, so that a first send pays no query for it.
        existing = Referral.objects.filter(sender=sender, idempotency_key=key).first()
        if existing is None:
            raise
        return _same_request(existing, client=client, service=service)


def _referral_create(
    *,
    client: Client,
    by: User,
    sender: Organization,
    service: ServicePage,
    categories: Sequence[str],
    idempotency_key: str,
    location: Location | None,
    urgency: str,
    note: str,
    now: datetime | None,
) -> Referral:
    """referral_send's checks and writes, for a permitted sender and a well-formed key."""
    from consent.models import SDOH_CODES
    from consent.selectors import agreement_for_listing, consent_active_for
    from directory.models import ServiceAtLocation

    if client.organization_id != sender.pk:
        raise PermissionDenied(_("Only the client's clinic may refer them."))
    categories = sorted(set(categories))
    errors: dict[str, str] = {}
    if not categories:
        errors["categories"] = _("Choose the needs this referral is for.")
    elif not set(categories) <= SDOH_CODES:
        errors["categories"] = _("Unknown needs: %(codes)s.") % {
            "codes": ", ".join(sorted(set(categories) - SDOH_CODES))
        }
    if urgency not in Urgency.values:
        errors["urgency"] = _("Urgency is routine or urgent.")
    if len(note) > 5000:
        errors["note"] = _("Keep the note under 5,000 characters.")
    if not service.live:
        errors["service"] = _("This service is not published.")
    if (
        location is not None
        and not ServiceAtLocation.objects.filter(page=service, location=location).exists()
    ):
        errors["location"] = _("The service is not offered at this location.")
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    # The agreement and its agency in one query; without one, the agency alone, so that the
    # refusal says which of the checks below failed.
    listing_path = service.path[: -service.steplen]
    agreement = agreement_for_listing(listing_path=listing_path, clinic=sender, at=now)
    agency = agreement.agency if agreement is not None else agency_of(service)
    if agency.network_id != sender.network_id or not agency.is_active:
        raise AgreementMissing(_("This agency does not take referrals in your network."))
    if not agency.receives_referrals or service.referral_method != "electronic":
        raise AgreementMissing(
            _("%(agency)s takes no electronic referrals for this service; contact it directly.")
            % {"agency": agency}
        )
    consent = consent_active_for(client=client, recipient=agency, categories=categories, at=now)
    if consent is None:
        raise ConsentRequired(
            _(
                "No active consent lets %(client)s's information go to %(agency)s for these "
                "needs. Record the client's consent first."
            )
            % {"client": client.full_name, "agency": agency}
        )
    if agreement is None:
        raise AgreementMissing(
            _("%(agency)s has no data-sharing agreement in force; contact it directly.")
            % {"agency": agency}
        )
    tz = ZoneInfo(sender.network.time_zone)
    with transaction.atomic():
        referral = Referral.objects.create(
            network_id=sender.network_id,
            client=client,
            sender=sender,
            sent_by=by,
            agency=agency,
            service=service,
            location=location,
            service_name=service.title,
            categories=categories,
            urgency=urgency,
            note=note.strip(),
            consent=consent,
            agreement=agreement,
            status=ReferralStatus.REQUESTED,
            response_due_at=business_hours_after(now, agreement.response_hours, tz),
            idempotency_key=idempotency_key,
            sent_at=now,
        )
        dashboard_changed(referral.network_id)
        _event(
            referral,
            EventKind.CREATED,
            at=now,
            actor=by,
            organization=sender,
            to_status=ReferralStatus.REQUESTED,
        )
        _notify_holders(
            agency,
            OrgPerm.RECEIVE_REFERRALS,
            referral=referral,
            kind="referral_received",
            subject=_("New referral #%(id)s: %(service)s")
            % {"id": referral.pk, "service": referral.service_name},
            body=_("%(clinic)s sent a %(urgency)s referral for %(service)s.")
            % {
                "clinic": sender,
                "urgency": referral.get_urgency_display().lower(),
                "service": referral.service_name,
            },
        )
    return referral


def _same_request(existing: Referral, *, client: Client, service: ServicePage) -> Referral:
    if existing.client_id != client.pk or existing.service_id != service.pk:
        raise IdempotencyConflict(_("This idempotency key was already used for another referral."))
    return existing


def _side(referral: Referral, by: User, organization: Organization) -> Side:
    """Which side of the referral ``by`` acts for, checking their permission there."""
    if organization.pk == referral.sender_id and user_has_org_perm(
        by, OrgPerm.SEND_REFERRALS, organization
    ):
        return Side.SENDER
    if organization.pk == referral.agency_id and user_has_org_perm(
        by, OrgPerm.RECEIVE_REFERRALS, organization
    ):
        return Side.RECIPIENT
    raise PermissionDenied(_("You cannot act on this referral."))


def referral_transition(
    *,
    referral: Referral,
    to: str,
    by: User,
    organization: Organization,
    version: int,
    reason: str = "",
    outcome: str = "",
    outcome_note: str = "",
    now: datetime | None = None,
) -> Referral:
    """Apply one status change from the lifecycle table, or refuse.

    PermissionDenied for the wrong organization or role; TransitionNotAllowed when the table,
    the side, a missing reason or outcome forbid it; StaleVersion (with the current state) when
    ``version`` is not the referral's version. The change, its event and its notifications are
    written together or not at all.
    """
    side = _side(referral, by, organization)
    now = now or timezone.now()
    with transaction.atomic():
        current = Referral.objects.select_for_update().get(pk=referral.pk)
        if current.version != version:
            raise StaleVersion(current)
        before = current.status
        reason, outcome_note = reason.strip(), outcome_note.strip()
        refusal = transition_refusal(current.status, to, side, reason=reason, outcome=outcome)
        if refusal is not None:
            raise TransitionNotAllowed(refusal)
        if outcome and (to not in OUTCOME_REQUIRED or outcome not in ReferralOutcome.values):
            raise TransitionNotAllowed(
                Refusal("bad_outcome", _("“%(code)s” is not an outcome here.") % {"code": outcome})
            )
        changes: dict[str, Any] = {
            "status": to,
            "status_reason": reason,
            "version": version + 1,
            "updated_at": now,
        }
        if to in OUTCOME_REQUIRED:
            changes.update(outcome=outcome, outcome_note=outcome_note)
        if current.status == ReferralStatus.REQUESTED and to in {
            ReferralStatus.ACCEPTED,
            ReferralStatus.REJECTED,
        }:
            changes["responded_at"] = now
        if to == ReferralStatus.ACCEPTED:
            changes["outcome_due_at"] = now + timedelta(days=current.agreement.outcome_days)
        if to in TERMINAL:
            changes["closed_at"] = now
        # The version in the WHERE clause makes the check hold even where rows cannot be locked.
        if not Referral.objects.filter(pk=current.pk, version=version).update(**changes):
            raise StaleVersion(Referral.objects.get(pk=current.pk))
        dashboard_changed(current.network_id)
        for name, value in changes.items():
            setattr(current, name, value)
        text = reason
        if outcome:
            text = " — ".join(p for p in (current.get_outcome_display(), outcome_note, reason) if p)
        _event(
            current,
            EventKind.STATUS,
            at=now,
            actor=by,
            organization=organization,
            from_status=before,
            to_status=to,
            text=text,
        )
        status = current.get_status_display()
        subject = _("Referral #%(id)s is now %(status)s") % {"id": current.pk, "status": status}
        body = _("%(org)s marked the referral for %(service)s %(status)s.") % {
            "org": organization,
            "service": current.service_name,
            "status": status.lower(),
        }
        if outcome:
            # The closed loop: the clinic learns how it ended. The code's label only; the free
            # text (note, reason) may name the client and email is not a safe channel.
            body += " " + _("Outcome: %(outcome)s.") % {"outcome": current.get_outcome_display()}
        recipients = (
            _sender_recipients(current) if side == Side.RECIPIENT else _agency_recipients(current)
        )
        _notify(recipients, referral=current, kind=f"referral_{to}", subject=subject, body=body)
    referral.__dict__.update({k: v for k, v in current.__dict__.items() if not k.startswith("_")})
    return current


def referral_message(
    *, referral: Referral, by: User, organization: Organization, text: str
) -> ReferralEvent:
    """A message between the clinic and the agency on the referral's timeline."""
    side = _side(referral, by, organization)
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write a message.")})
    if len(text) > 5000:
        raise ValidationError({"text": _("Keep the message under 5,000 characters.")})
    with transaction.atomic():
        event = _event(
            referral,
            EventKind.MESSAGE,
            at=timezone.now(),
            actor=by,
            organization=organization,
            text=text,
        )
        recipients = (
            _sender_recipients(referral) if side == Side.RECIPIENT else _agency_recipients(referral)
        )
        _notify(
            recipients,
            referral=referral,
            kind="referral_message",
            subject=_("New message on referral #%(id)s") % {"id": referral.pk},
            body=_("%(org)s wrote about the referral for %(service)s.")
            % {"org": organization, "service": referral.service_name},
        )
    return event


def referral_viewed(*, referral: Referral, by: User, organization: Organization) -> bool:
    """Record the agency opening the referral (once per person); True if it was recorded."""
    if organization.pk != referral.agency_id:
        return False
    if ReferralEvent.objects.filter(referral=referral, kind=EventKind.VIEWED, actor=by).exists():
        return False
    _event(referral, EventKind.VIEWED, at=timezone.now(), actor=by, organization=organization)
    return True


def referrals_consent_revoked(*, consent: Any, by: User, **kwargs: Any) -> None:
    """Receiver of ``consent.signals.consent_revoked``: the revocation reaches the referrals."""
    referrals_consent_withdrawn(consent=consent, by=by, expired=False)


def referrals_consent_withdrawn(*, consent: Any, by: User | None, expired: bool) -> int:
    """Put the consent's end on the timeline of every open referral it covered and tell the
    agency to stop using the client's data; how many referrals."""
    open_referrals = list(
        Referral.objects.filter(consent=consent)
        .exclude(status__in=TERMINAL)
        .select_related("agency")
    )
    kind = EventKind.CONSENT_EXPIRED if expired else EventKind.CONSENT_REVOKED
    now = timezone.now()
    for referral in open_referrals:
        _event(referral, kind, at=now, actor=by, organization=None)
        _notify(
            _agency_recipients(referral) + _sender_recipients(referral),
            referral=referral,
            kind=f"referral_{kind}",
            subject=_("Consent ended for referral #%(id)s") % {"id": referral.pk},
            body=_(
                "The client's consent no longer covers this referral. Its details are withdrawn; "
                "do not use or keep the client's information."
            ),
        )
    return len(open_referrals)


def _event(
    referral: Referral,
    kind: str,
    *,
    at: datetime,
    actor: User | None,
    organization: Organization | None,
    from_status: str = "",
    to_status: str = "",
    text: str = "",
) -> ReferralEvent:
    return ReferralEvent.objects.create(
        referral=referral,
        kind=kind,
        at=at,
        actor=actor,
        organization=organization,
        from_status=from_status,
        to_status=to_status,
        text=text,
    )


def _agency_recipients(referral: Referral) -> list[User]:
    return list(organizations_users_with_perm(referral.agency, OrgPerm.RECEIVE_REFERRALS))


def _sender_recipients(referral: Referral) -> list[User]:
    """The person who sent it, while they still work for the clinic; otherwise the clinic's
    staff, so that an answer never lands nowhere."""
    staff = list(organizations_users_with_perm(referral.sender, OrgPerm.SEND_REFERRALS))
    sent_by = [u for u in staff if u.pk == referral.sent_by_id]
    return sent_by or staff


def _notify(
    users: Iterable[User],
    *,
    referral: Referral | None,
    kind: str,
    subject: str,
    body: str,
) -> list[Notification]:
    """Outbox rows (in-app, and email where the person has one), delivered after commit.

    The texts name the referral and service, never the client: email is not a safe channel.
    """
    link = reverse("network:referral_detail", args=[referral.pk]) if referral else ""
    rows = [
        Notification(
            user=user,
            referral=referral,
            channel=channel,
            kind=kind,
            subject=subject,
            body=body,
            link=link,
        )
        for user in dict.fromkeys(users)
        for channel in ((Channel.IN_APP, Channel.EMAIL) if user.email else (Channel.IN_APP,))
    ]
    created = Notification.objects.bulk_create(rows)
    ids = [n.pk for n in created]
    if ids:
        transaction.on_commit(lambda: _enqueue_delivery(ids))
    return created


def _notify_holders(
    organization: Organization,
    perm: OrgPerm,
    *,
    referral: Referral,
    kind: str,
    subject: str,
    body: str,
) -> list[int]:
    """``_notify`` for every active holder of ``perm`` on ``organization`` (as
    ``organizations_users_with_perm`` finds them), in one INSERT … SELECT: the insert reads the
    recipients itself, which spares a send a round trip and the objects. Ids of the new rows."""
    from django.db import connection

    from .models import OrganizationUserObjectPermission

    grants = OrganizationUserObjectPermission._meta.db_table
    outbox = Notification._meta.db_table
    users = User._meta.db_table
    sql = f"""
        INSERT INTO {outbox}
            (user_id, referral_id, channel, kind, subject, body, link, created_at,
             next_attempt_at, attempts, last_error, delivered_at, read_at)
        SELECT u.id, %s, c.channel, %s, %s, %s, %s, %s, NULL, 0, '', NULL, NULL
        FROM {users} u
        JOIN {grants} g ON g.user_id = u.id
        JOIN {Permission._meta.db_table} p ON p.id = g.permission_id
        JOIN (SELECT %s AS channel UNION ALL SELECT %s) c
            ON c.channel = %s OR u.email <> ''
        WHERE u.is_active AND g.content_object_id = %s AND p.codename = %s
        RETURNING id
    """  # noqa: S608 -- table names from model metadata; every value is a parameter
    link = reverse("network:referral_detail", args=[referral.pk])
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                *(referral.pk, kind, subject, body, link),
                connection.ops.adapt_datetimefield_value(timezone.now()),
                *(Channel.IN_APP, Channel.EMAIL, Channel.IN_APP),
                *(organization.pk, perm.value),
            ],
        )
        ids = [row[0] for row in cursor.fetchall()]
    if ids:
        transaction.on_commit(lambda: _enqueue_delivery(ids))
    return ids


def _enqueue_delivery(ids: list[int]) -> None:
    """Queue delivery; if the broker is down the rows wait for the sweep (nothing is lost)."""
    try:
        tasks.notifications_deliver.delay(ids)
    except Exception:
        logger.warning("could not queue delivery of notifications %s; the sweep will", ids)


# --- overdue handling ------------------------------------------------------------------------

ESCALATE_AFTER_HOURS = 4  # business hours past the answer deadline
ALTERNATIVES = 3


def referrals_overdue_process(*, now: datetime) -> dict[str, int]:
    """One pass of the scheduled sweep; counts of what it did.

    * ``reminded``: agencies reminded when three quarters of the answer window has passed (not
      once the deadline itself has passed: then the next step says so);
    * ``due``: reminded again at the deadline;
    * ``escalated``: still unanswered ``ESCALATE_AFTER_HOURS`` business hours after it: the
      network admins and the sender are told, with other agencies for the same need;
    * ``outcome``: accepted referrals past the agreement's outcome window;
    * ``consent``: open referrals whose consent expired (timeline and both sides told).

    Each step is taken once per referral (its timestamp field), so overlapping sweeps are safe.
    A step that fails is logged and left whole for the next sweep; the others go on.
    """
    counts = dict.fromkeys(("reminded", "due", "escalated", "outcome", "consent"), 0)
    waiting = Referral.objects.filter(status=ReferralStatus.REQUESTED).select_related(
        "agency", "sender", "network"
    )
    for referral in waiting.filter(reminded_at__isnull=True, response_due_at__gt=now):
        due = referral.response_due_at
        if due is None:  # excluded by the query; said again for the type checker
            continue
        window = due - (referral.sent_at or referral.created_at)
        if now >= due - window / 4:
            counts["reminded"] += _step(
                referral, "reminded_at", now, partial(_reminder, referral, now, due=False)
            )
    for referral in waiting.filter(due_reminded_at__isnull=True, response_due_at__lte=now):
        counts["due"] += _step(
            referral, "due_reminded_at", now, partial(_reminder, referral, now, due=True)
        )
    for referral in waiting.filter(escalated_at__isnull=True, response_due_at__lte=now):
        due = referral.response_due_at
        if due is None:  # excluded by the query; said again for the type checker
            continue
        tz = ZoneInfo(referral.network.time_zone)
        if now >= business_hours_after(due, ESCALATE_AFTER_HOURS, tz):
            # Searched before the step's transaction, which holds the referral's row lock.
            alternatives = _alternatives_or_none(referral, now)
            counts["escalated"] += _step(
                referral, "escalated_at", now, partial(_escalate, referral, now, alternatives)
            )
    owed = Referral.objects.filter(
        status__in=OUTCOME_OWED,
        outcome_reminded_at__isnull=True,
        outcome_due_at__lte=now,
    ).select_related("agency", "sender")
    for referral in owed:
        counts["outcome"] += _step(
            referral, "outcome_reminded_at", now, partial(_outcome_reminder, referral, now)
        )
    # order_by(): the default ordering's columns would make DISTINCT one row per referral.
    expired = (
        _consent_expired_unrecorded(now).order_by().values_list("consent_id", flat=True).distinct()
    )
    for consent_id in list(expired):
        try:
            with transaction.atomic():
                counts["consent"] += _consent_expired(consent_id, now)
        except Exception:
            logger.exception("recording the expiry of consent %s failed; next sweep", consent_id)
    return counts


def _step(referral: Referral, field: str, now: datetime, action: Callable[[], None]) -> int:
    """Claim one step and take it in one transaction: 1 if taken now, 0 if another sweep (or a
    status change) got there first or it failed (logged; the next sweep tries again)."""
    try:
        with transaction.atomic():
            if not _mark(referral, field, now):
                return 0
            action()
    except Exception:
        logger.exception("overdue step %s of referral %s failed; next sweep", field, referral.pk)
        return 0
    return 1


def _mark(referral: Referral, field: str, now: datetime) -> bool:
    """Claim one step for this sweep: False if another sweep (or a status change) got there."""
    claimed = Referral.objects.filter(
        pk=referral.pk, status=referral.status, **{f"{field}__isnull": True}
    ).update(**{field: now})
    return bool(claimed)


def _consent_expired_unrecorded(now: datetime) -> Any:
    return (
        Referral.objects.exclude(status__in=TERMINAL)
        .filter(consent__expires_at__lte=now, consent__revoked_at__isnull=True)
        .exclude(events__kind=EventKind.CONSENT_EXPIRED)
    )


def _consent_expired(consent_id: int, now: datetime) -> int:
    """Record one consent's expiry on its open referrals, under the consent's row lock so that
    overlapping sweeps record it once."""
    from consent.models import Consent

    consent = Consent.objects.select_for_update().get(pk=consent_id)
    if not _consent_expired_unrecorded(now).filter(consent=consent).exists():
        return 0  # another sweep recorded it while this one waited for the lock
    return referrals_consent_withdrawn(consent=consent, by=None, expired=True)


def _reminder(referral: Referral, now: datetime, *, due: bool) -> None:
    when = timezone.localtime(referral.response_due_at, ZoneInfo(referral.network.time_zone))
    _event(
        referral,
        EventKind.REMINDER,
        at=now,
        actor=None,
        organization=None,
        text=str(_("Answer due now") if due else _("Answer due soon")),
    )
    _notify(
        _agency_recipients(referral),
        referral=referral,
        kind="referral_due" if due else "referral_due_soon",
        subject=(
            _("Referral #%(id)s needs an answer now")
            if due
            else _("Referral #%(id)s needs an answer soon")
        )
        % {"id": referral.pk},
        body=_("Accept or decline the referral for %(service)s by %(when)s.")
        % {"service": referral.service_name, "when": when.strftime("%a %d %b %H:%M")},
    )


def _outcome_reminder(referral: Referral, now: datetime) -> None:
    _event(
        referral,
        EventKind.REMINDER,
        at=now,
        actor=None,
        organization=None,
        text=str(_("Outcome overdue")),
    )
    _notify(
        _agency_recipients(referral),
        referral=referral,
        kind="referral_outcome_overdue",
        subject=_("Outcome overdue for referral #%(id)s") % {"id": referral.pk},
        body=_(
            "The agreement asks for the outcome of the referral for %(service)s by "
            "now. Record it so that %(clinic)s knows how it ended."
        )
        % {"service": referral.service_name, "clinic": referral.sender},
    )


def _alternatives_or_none(referral: Referral, now: datetime) -> list[Any]:
    """The suggestions, or none when the search fails: the escalation matters more."""
    try:
        return referral_alternatives(referral=referral, now=now)
    except Exception:
        logger.exception("no alternatives for overdue referral %s: the search failed", referral.pk)
        return []


def _escalate(referral: Referral, now: datetime, alternatives: list[Any]) -> None:
    names = "; ".join(f"{hit.service_name} ({hit.agency_name})" for hit in alternatives)
    text = str(_("No answer from the agency.")) + (
        " " + str(_("Other services for this need: %(names)s")) % {"names": names} if names else ""
    )
    admins = User.objects.filter(
        is_active=True,
        memberships__network_id=referral.network_id,
        memberships__role=Role.NETWORK_ADMIN,
    )
    _event(referral, EventKind.ESCALATION, at=now, actor=None, organization=None, text=text)
    _notify(
        [*admins, *_sender_recipients(referral)],
        referral=referral,
        kind="referral_overdue",
        subject=_("Referral #%(id)s is overdue") % {"id": referral.pk},
        body=_("%(agency)s has not answered the referral for %(service)s in time. %(more)s")
        % {"agency": referral.agency, "service": referral.service_name, "more": text},
    )


def referral_alternatives(*, referral: Referral, now: datetime) -> list[Any]:
    """Other services for the referral's needs near its location, accepting referrals, from
    other agencies: what the sender is offered when the agency does not answer."""
    from search.models import SearchDocument
    from search.query import Near, SearchQuery
    from search.selectors import service_search

    near = None
    # Near the chosen location, else near any place of the service: "the whole network" could
    # suggest a pantry in another county. Only a service without places searches everywhere.
    places = SearchDocument.objects.filter(service_id=referral.service_id).exclude(latitude=None)
    if referral.location_id is not None:
        places = places.filter(location_id=referral.location_id)
    point = places.order_by("pk").values_list("latitude", "longitude").first()
    if point is not None:
        latitude, longitude = point
        if latitude is not None and longitude is not None:
            near = Near(latitude=float(latitude), longitude=float(longitude), label="")
    query = SearchQuery(
        categories=tuple(referral.categories),
        near=near,
        radius_miles=25.0 if near else None,
        accepting_only=True,
        page_size=ALTERNATIVES + 5,
    )
    from directory.models import AgencyPage

    own = set(
        AgencyPage.objects.filter(organization=referral.agency_id).values_list("pk", flat=True)
    )
    results = service_search(network=referral.network, query=query, now=now)
    found = []
    for hit in results.hits:
        if hit.service_id != referral.service_id and hit.agency_id not in own:
            found.append(hit)
        if len(found) == ALTERNATIVES:
            break
    return found
