"""The send page's reads: the services a client can be sent to, with the agreement and consent
that would carry the referral, and the referrals a send key already made."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import F, Q, QuerySet
from django.utils import timezone
from wagtail.models import Site

from consent.models import Consent, DataSharingAgreement
from consent.selectors import agreements_in_effect, consent_covers, consents_in_force
from directory.models import Location, ReferralMethod, ServiceAtLocation, ServicePage
from network.models import Organization
from network.permissions import OrgPerm, organizations_with_active_holders, user_has_org_perm
from referrals.models import Client, Referral
from referrals.selectors.referrals import referrals_visible

if TYPE_CHECKING:
    from network.models import User


@dataclass(frozen=True)
class SendChoice:
    """One service chosen on the send page: its agency, the agreement in force between that
    agency and the clinic (None: contact directly), its needs and where it is offered."""

    service: ServicePage
    agency: Organization | None
    agreement: DataSharingAgreement | None
    categories: tuple[str, ...]
    locations: tuple[Location, ...]
    # Whether an active user of the agency holds the receive permission: without one, a
    # referral sent there waits with nobody to read it.
    has_receivers: bool = True

    @property
    def refusal(self) -> str:
        """Why no electronic referral can go to this service (one of ``REFUSALS``), in the
        order ``referral_send`` checks; "" when one can."""
        if self.agency is None:
            return "no-agency"
        if not self.agency.is_active:
            return "agency-inactive"
        if not self.agency.receives_referrals:
            return "agency-not-receiving"
        if self.service.referral_method != ReferralMethod.ELECTRONIC:
            return "contact-directly"
        if self.agreement is None:
            return "no-agreement"
        return ""

    @property
    def sendable(self) -> bool:
        """Whether an electronic referral can go to this service (what ``referral_send``
        requires of the agency and the listing)."""
        return not self.refusal


def send_choices(
    *, user: User, organization: Organization, service_ids: Iterable[int]
) -> list[SendChoice]:
    """The services of the clinic's network directory among ``service_ids`` (published, in the
    order asked, each once), for the clinic's staff; ids found nowhere there are left out, and
    anyone else gets nothing. Seven queries for any number of services."""

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
    staffed = organizations_with_active_holders(agencies.values(), OrgPerm.RECEIVE_REFERRALS)
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
                has_receivers=agency is not None and agency.pk in staffed,
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
