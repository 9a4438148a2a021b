"""Every non-trivial read of tenancy data; each takes the actor and returns only what it may see."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.db.models import Count, F, Q, QuerySet

from referrals.models import Client, Referral, ReferralEvent

from .lifecycle import TERMINAL
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


# --- clinic workspace ------------------------------------------------------------------------

if TYPE_CHECKING:
    from consent.models import Consent
    from referrals.models import Screening


def clients_find(*, user: User, organization: Organization, text: str = "") -> QuerySet[Client]:
    """The clinic's clients (as ``clients_visible``) matching every word of ``text``, by name
    (part of the first or last name), date of birth (2026-01-31 or 1/31/2026) or medical record
    number (exact), each with ``last_screened_at`` and ``open_referral_count``."""
    from django.db.models import IntegerField, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    from referrals.models import Screening

    qs = clients_visible(user=user, organization=organization)
    for word in text.split()[:8]:
        born = _parse_birth_date(word)
        if born is not None:
            qs = qs.filter(date_of_birth=born)
        else:
            qs = qs.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(external_id__iexact=word)
            )
    last_screened = (
        Screening.objects.filter(client=OuterRef("pk"))
        .order_by("-performed_at")
        .values("performed_at")[:1]
    )
    open_referrals = (
        Referral.objects.filter(client=OuterRef("pk"), sender=organization)
        .exclude(status__in=TERMINAL)
        .order_by()
        .values("client")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return qs.annotate(
        last_screened_at=Subquery(last_screened),
        open_referral_count=Coalesce(Subquery(open_referrals, output_field=IntegerField()), 0),
    ).order_by("last_name", "first_name", "pk")


def _parse_birth_date(word: str) -> date | None:
    """A date typed the ISO way or the US way; None when the word is not a date."""
    import re

    us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", word)
    try:
        if us:
            return date(int(us[3]), int(us[1]), int(us[2]))
        return date.fromisoformat(word) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", word) else None
    except ValueError:  # 2/30/1990: a date-shaped word that is no date
        return None


def client_screenings(*, client: Client) -> QuerySet[Screening]:
    """The client's screenings, newest first, with who performed them (call after checking
    access to the client)."""
    return client.screenings.select_related("performed_by").order_by("-performed_at", "-pk")


def client_consents(*, client: Client) -> QuerySet[Consent]:
    """The client's consents, newest first, with their recipients and who recorded or revoked
    them (call after checking access to the client)."""
    from consent.models import Consent

    return (
        Consent.objects.filter(client=client)
        .select_related("recorded_by", "revoked_by")
        .prefetch_related("recipients", "sensitive_recipients")
        .order_by("-granted_at", "-pk")
    )


def client_referrals(
    *, user: User, organization: Organization, client: Client
) -> QuerySet[Referral]:
    """Referrals of ``client`` that ``organization`` may see (as ``referrals_visible``), newest
    first, with their agencies."""
    return (
        referrals_visible(user=user, organization=organization)
        .filter(client=client)
        .select_related("agency")
        .order_by("-created_at", "-pk")
    )


# --- the send flow and the clinic's referral tracker -----------------------------------------

if TYPE_CHECKING:
    from consent.models import DataSharingAgreement
    from directory.models import Location, ServicePage


@dataclass(frozen=True)
class SendChoice:
    """One service chosen on the send page: its agency, the agreement in force between that
    agency and the clinic (None: contact directly), its needs and where it is offered."""

    service: ServicePage
    agency: Organization | None
    agreement: DataSharingAgreement | None
    categories: tuple[str, ...]
    locations: tuple[Location, ...]

    @property
    def sendable(self) -> bool:
        """Whether an electronic referral can go to this service (what ``referral_send``
        requires of the agency and the listing)."""
        return (
            self.agency is not None
            and self.agreement is not None
            and self.agency.is_active
            and self.agency.receives_referrals
            and self.service.referral_method == "electronic"
        )


def send_choices(
    *, user: User, organization: Organization, service_ids: Iterable[int]
) -> list[SendChoice]:
    """The services of the clinic's network directory among ``service_ids`` (published, in the
    order asked, each once), for the clinic's staff; ids found nowhere there are left out, and
    anyone else gets nothing. Six queries for any number of services."""
    from wagtail.models import Site

    from consent.selectors import agreements_in_effect
    from directory.models import ServiceAtLocation, ServicePage

    ids = list(dict.fromkeys(service_ids))
    if not ids or not organization.sends_referrals:
        return []
    if not user_has_org_perm(user, OrgPerm.SEND_REFERRALS, organization):
        return []
    root_path = (
        Site.objects.filter(network__pk=organization.network_id)
        .values_list("root_page__path", flat=True)
        .first()
    )
    if not root_path:
        return []
    found = {
        s.pk: s for s in ServicePage.objects.live().filter(pk__in=ids, path__startswith=root_path)
    }
    chosen = [found[pk] for pk in ids if pk in found]
    if not chosen:
        return []
    listing_paths = {s.pk: s.path[: -s.steplen] for s in chosen}
    agencies = {
        agency.listing_path: agency
        for agency in Organization.objects.filter(
            listing__path__in=set(listing_paths.values())
        ).annotate(listing_path=F("listing__path"))
    }
    agreements: dict[int, DataSharingAgreement] = {}
    # The agreement made for this clinic wins over the agency's network-wide one.
    for agreement in (
        agreements_in_effect()
        .filter(
            Q(clinic=organization) | Q(clinic__isnull=True),
            agency__in=[a.pk for a in agencies.values()],
        )
        .order_by("clinic_id")
    ):
        if agreement.clinic_id is not None or agreement.agency_id not in agreements:
            agreements[agreement.agency_id] = agreement
    categories: dict[int, list[str]] = {}
    for service_id, code in ServicePage.categories.through.objects.filter(
        servicepage_id__in=found
    ).values_list("servicepage_id", "sdohcategory__code"):
        categories.setdefault(service_id, []).append(code)
    locations: dict[int, list[Location]] = {}
    for link in (
        ServiceAtLocation.objects.filter(page_id__in=found)
        .select_related("location")
        .order_by("sort_order", "pk")
    ):
        locations.setdefault(link.page_id, []).append(link.location)
    choices = []
    for service in chosen:
        agency = agencies.get(listing_paths[service.pk])
        choices.append(
            SendChoice(
                service=service,
                agency=agency,
                agreement=agreements.get(agency.pk) if agency is not None else None,
                categories=tuple(sorted(categories.get(service.pk, ()))),
                locations=tuple(locations.get(service.pk, ())),
            )
        )
    return choices


def consents_on_file(
    *,
    user: User,
    organization: Organization,
    client: Client,
    agencies: Iterable[Organization],
    categories: Iterable[str],
    at: datetime | None = None,
) -> dict[int, Consent]:
    """For each agency (by id), the client's most recent consent active for it and every one
    of ``categories`` (the rule of ``consent_active_for``); agencies no consent covers are
    missing. Only for staff of the client's own clinic. Three queries for any number of
    agencies."""
    from django.utils import timezone

    from consent.selectors import consent_covers, consents_in_force

    if client.organization_id != organization.pk or not user_has_org_perm(
        user, OrgPerm.SEND_REFERRALS, organization
    ):
        return {}
    at = at or timezone.now()
    categories = list(categories)
    candidates = list(
        consents_in_force(client=client, at=at).prefetch_related(
            "recipients", "sensitive_recipients"
        )
    )
    if not candidates or not categories:
        return {}
    sensitive = candidates[0].network.sensitive_category_codes()
    ids = {
        c.pk: (
            frozenset(r.pk for r in c.recipients.all()),
            frozenset(r.pk for r in c.sensitive_recipients.all()),
        )
        for c in candidates
    }
    found: dict[int, Consent] = {}
    for agency in agencies:
        for consent in candidates:
            if consent_covers(
                consent,
                recipient=agency,
                categories=categories,
                at=at,
                sensitive=sensitive,
                recipient_ids=ids[consent.pk][0],
                sensitive_recipient_ids=ids[consent.pk][1],
            ):
                found[agency.pk] = consent
                break
    return found


def referrals_for_send_key(
    *, user: User, organization: Organization, idempotency_key: str
) -> QuerySet[Referral]:
    """The referrals the clinic already sent with this send-page key (``referrals_send`` keys
    each one ``<key>/<service id>``): non-empty means the form was submitted before."""
    key = idempotency_key.strip()
    if not key:
        return Referral.objects.none()
    return referrals_visible(user=user, organization=organization).filter(
        sender=organization, idempotency_key__startswith=f"{key}/"
    )


def referrals_overdue_condition(now: datetime) -> Q:
    """Referrals past their due date: no answer by ``response_due_at``, or accepted and no
    outcome by ``outcome_due_at``."""
    from .lifecycle import OUTCOME_OWED

    return Q(status="requested", response_due_at__lt=now) | Q(
        status__in=OUTCOME_OWED, outcome_due_at__lt=now
    )


def referrals_sent(
    *,
    user: User,
    organization: Organization,
    now: datetime,
    statuses: Iterable[str] = (),
    agency: Organization | None = None,
    category: str = "",
    overdue: bool = False,
    sent_from: date | None = None,
    sent_to: date | None = None,
) -> QuerySet[Referral]:
    """Referrals ``organization`` sent, newest first, for its clinic staff (none for anyone
    else), with their agency and client, ``sent_on``, ``due_at`` (the answer or the outcome
    owed next) and ``is_overdue``. Sent dates are days in the network's time zone. Newest first
    is an index scan (sender, sent_at, id): a page costs the same after 100,000 referrals."""
    from datetime import time, timedelta
    from zoneinfo import ZoneInfo

    from django.db import connection
    from django.db.models import BooleanField, Case, DateTimeField, Value, When

    from .lifecycle import OUTCOME_OWED

    if not organization.sends_referrals or not user_has_org_perm(
        user, OrgPerm.SEND_REFERRALS, organization
    ):
        return Referral.objects.none()
    late = referrals_overdue_condition(now)
    qs = (
        Referral.objects.filter(sender=organization, sent_at__isnull=False)
        .select_related("agency", "client")
        .annotate(
            sent_on=F("sent_at"),
            due_at=Case(
                When(status="requested", then=F("response_due_at")),
                When(status__in=OUTCOME_OWED, then=F("outcome_due_at")),
                default=None,
                output_field=DateTimeField(),
            ),
            is_overdue=Case(
                When(late, then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
        )
    )
    if statuses := list(statuses):
        qs = qs.filter(status__in=statuses)
    if agency is not None:
        qs = qs.filter(agency=agency)
    if category:
        if connection.features.supports_json_field_contains:
            qs = qs.filter(categories__contains=[category])
        else:  # SQLite: the JSON list's text holds each code quoted
            qs = qs.filter(categories__icontains=f'"{category}"')
    if overdue:
        qs = qs.filter(late)
    tz = ZoneInfo(organization.network.time_zone)
    if sent_from is not None:
        qs = qs.filter(sent_at__gte=datetime.combine(sent_from, time.min, tz))
    if sent_to is not None:
        qs = qs.filter(sent_at__lt=datetime.combine(sent_to + timedelta(days=1), time.min, tz))
    return qs.order_by("-sent_at", "-pk")


# --- agency portal ---------------------------------------------------------------------------

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from directory.models import AgencyPage, ServicePage

INBOX_TABS: tuple[str, ...] = ("new", "overdue", "in_progress", "waiting")


def inbox_tab_conditions(*, now: datetime) -> dict[str, Q]:
    """What puts a received referral on each inbox tab at ``now``. Overdue overlaps the others:
    a late referral is also new, in progress or waiting."""
    from referrals.models import ReferralStatus

    from .lifecycle import OUTCOME_OWED

    return {
        "new": Q(status=ReferralStatus.REQUESTED),
        "overdue": Q(status=ReferralStatus.REQUESTED, response_due_at__lt=now)
        | Q(status__in=OUTCOME_OWED, outcome_due_at__lt=now),
        "in_progress": Q(status__in=[ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS]),
        "waiting": Q(status=ReferralStatus.ON_HOLD),
    }


def referral_inbox_counts(
    *, user: User, organization: Organization, now: datetime
) -> dict[str, int]:
    """How many of the agency's received referrals each inbox tab holds, in one aggregate
    query; all zero for anyone but its staff who receive referrals."""
    conditions = inbox_tab_conditions(now=now)
    counts = (
        referral_inbox(user=user, organization=organization)
        .order_by()
        .aggregate(**{tab: Count("pk", filter=condition) for tab, condition in conditions.items()})
    )
    return {tab: counts.get(tab) or 0 for tab in INBOX_TABS}


def referral_inbox_tab(
    *,
    user: User,
    organization: Organization,
    tab: str,
    now: datetime,
    descending: bool = False,
) -> QuerySet[Referral]:
    """The received referrals on one inbox tab, by due date (the answer's while requested,
    else the outcome's; undated last), each with ``due_at``, ``client_language`` (show it only
    through ``referral_inbox_languages``) and what deciding that needs."""
    from django.db.models import Case, F, When

    from referrals.models import ReferralStatus

    conditions = inbox_tab_conditions(now=now)
    if tab not in conditions:
        raise ValueError(f"Unknown inbox tab {tab!r}.")
    due = Case(
        When(status=ReferralStatus.REQUESTED, then=F("response_due_at")),
        default=F("outcome_due_at"),
    )
    order = F("due_at").desc(nulls_last=True) if descending else F("due_at").asc(nulls_last=True)
    return (
        referral_inbox(user=user, organization=organization)
        .filter(conditions[tab])
        .annotate(due_at=due, client_language=F("client__preferred_language"))
        .select_related("sender", "agreement", "consent__network")
        .prefetch_related("consent__recipients", "consent__sensitive_recipients")
        .order_by(order, "-pk" if descending else "pk")
    )


def referral_inbox_languages(
    *,
    referrals: Sequence[Referral],
    organization: Organization,
    user: User,
    at: datetime,
    ip_address: str | None = None,
    user_agent: str = "",
) -> dict[int, str]:
    """Referral id → the client's preferred language, for the listed referrals (from
    ``referral_inbox_tab``) whose disclosure shows that field, logged as seen in one write.

    ``consent.disclosure.fields_disclosed`` decides, for the whole page in constant queries.
    """
    from consent.disclosure import fields_disclosed
    from consent.models import ClientField
    from consent.services import access_log_write

    field = ClientField.PREFERRED_LANGUAGE
    disclosed = fields_disclosed(referrals, organization, at=at)
    allowed = [referral for referral in referrals if field in disclosed[referral.pk]]
    access_log_write(
        user=user,
        organization=organization,
        purpose="inbox",
        fields=[field],
        seen=[(referral.client_id, referral.pk) for referral in allowed],
        ip_address=ip_address,
        user_agent=user_agent,
        at=at,
    )
    return {referral.pk: getattr(referral, "client_language", "") for referral in allowed}


def agency_listing(*, user: User, organization: Organization) -> AgencyPage | None:
    """The organization's directory listing, for its staff who keep it current (those who
    update capacity); None for anyone else or when it has no listing."""
    from directory.models import AgencyPage

    if not organization.receives_referrals or not user_has_org_perm(
        user, OrgPerm.UPDATE_CAPACITY, organization
    ):
        return None
    return (
        AgencyPage.objects.filter(organization=organization)
        .select_related("verification__verified_by")
        .first()
    )


def agency_listing_services(*, listing: AgencyPage) -> QuerySet[ServicePage]:
    """The services under a listing ``agency_listing`` returned, by title, each with its
    capacity."""
    from directory.models import ServicePage

    return (
        ServicePage.objects.child_of(listing)
        .select_related("capacity__updated_by")
        .order_by("title", "pk")
    )
