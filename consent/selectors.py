"""Which consent and which agreement apply: the two questions every referral asks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet
from django.utils import timezone
from wagtail.documents import get_document_model
from wagtail.models import Collection
from wagtail.permissions import policy_registry

from network.models import Network, Organization, User
from network.permissions import (
    NetworkPerm,
    OrgPerm,
    administered_network_ids,
    networks_with_perm,
    organizations_with_perm,
    user_has_org_perm,
)

from .models import AccessLog, AgreementStatus, Consent, DataSharingAgreement

if TYPE_CHECKING:
    # Types only: consent sits below the referral loop and never imports it at run time.
    from referrals.models import Client


def consent_covers(
    consent: Consent,
    *,
    recipient: Organization,
    categories: Iterable[str],
    at: datetime | None = None,
    sensitive: frozenset[str] | None = None,
    recipient_ids: frozenset[int] | None = None,
    sensitive_recipient_ids: frozenset[int] | None = None,
) -> bool:
    """Whether ``consent`` is active at ``at`` for ``recipient`` and every one of ``categories``.

    The one rule: not revoked, not expired, the recipient named (or the whole network), each
    category covered, and a sensitive category only for a recipient the consent names for it.
    The id sets may be passed in when the caller has prefetched the consent's recipients.
    """
    at = at or timezone.now()
    if not consent.is_active(at) or recipient.network_id != consent.network_id:
        return False
    wanted = set(categories)
    if not wanted or not wanted <= set(consent.categories):
        return False
    if not consent.whole_network:
        if recipient_ids is None:
            recipient_ids = frozenset(r.pk for r in consent.recipients.all())
        if recipient.pk not in recipient_ids:
            return False
    if sensitive is None:
        sensitive = consent.network.sensitive_category_codes()
    if wanted & sensitive:
        if sensitive_recipient_ids is None:
            sensitive_recipient_ids = frozenset(r.pk for r in consent.sensitive_recipients.all())
        if recipient.pk not in sensitive_recipient_ids:
            return False
    return True


def consents_naming(
    recipient: Organization, *, consent_ids: Iterable[int], sensitive: bool = False
) -> frozenset[int]:
    """Those of ``consent_ids`` that name ``recipient`` among their recipients (``sensitive``:
    among the recipients of sensitive categories), in one query, none when none is asked: what
    ``consent_covers`` reads of the consents of a page of referrals, as its id sets."""
    wanted = set(consent_ids)
    if not wanted:
        return frozenset()
    names = Consent.sensitive_recipients if sensitive else Consent.recipients
    return frozenset(
        names.through.objects.filter(consent_id__in=wanted, organization_id=recipient.pk)
        .values_list("consent_id", flat=True)
        .order_by()
    )


def consent_active_for(
    *,
    client: Client,
    recipient: Organization,
    categories: Iterable[str],
    at: datetime | None = None,
) -> Consent | None:
    """The most recent consent of ``client`` active for ``recipient`` and all ``categories``.

    Recipients are read only for a consent that names them (not for a whole-network one).
    """
    at = at or timezone.now()
    categories = list(categories)
    for consent in consents_in_force(client=client, at=at):
        if consent_covers(consent, recipient=recipient, categories=categories, at=at):
            return consent
    return None


def consents_in_force(*, client: Client, at: datetime) -> QuerySet[Consent]:
    """The client's consents granted, not expired and not revoked at ``at``, newest first, with
    their network (whose sensitive categories ``consent_covers`` reads)."""
    return (
        Consent.objects.filter(client=client, granted_at__lte=at, expires_at__gt=at)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
        .select_related("network")
        .order_by("-granted_at", "-pk")
    )


def agreements_in_effect(at: datetime | None = None) -> QuerySet[DataSharingAgreement]:
    day = timezone.localdate(at) if at else timezone.localdate()
    return DataSharingAgreement.objects.filter(
        Q(effective_to__isnull=True) | Q(effective_to__gte=day),
        status=AgreementStatus.ACTIVE,
        effective_from__lte=day,
    )


def agreement_for(
    *, agency: Organization, clinic: Organization, at: datetime | None = None
) -> DataSharingAgreement | None:
    """The agreement in force between ``agency`` and referrals from ``clinic``: one made for
    that clinic first, else the agency's network-wide one; None means no electronic referrals."""
    return _clinic_first(
        agreements_in_effect(at).filter(Q(clinic=clinic) | Q(clinic__isnull=True), agency=agency)
    )


def agreement_for_listing(
    *, listing_path: str, clinic: Organization, at: datetime | None = None
) -> DataSharingAgreement | None:
    """As ``agreement_for``, for the agency whose listing page is at ``listing_path``, with that
    agency read in the same query (a send's hot path: one query instead of two)."""
    return _clinic_first(
        agreements_in_effect(at)
        .filter(Q(clinic=clinic) | Q(clinic__isnull=True), agency__listing__path=listing_path)
        .select_related("agency")
    )


def _clinic_first(agreements: QuerySet[DataSharingAgreement]) -> DataSharingAgreement | None:
    """The agreement made for the clinic if there is one, else the network-wide one."""
    found = sorted(agreements, key=lambda a: a.clinic_id is None)
    return found[0] if found else None


def listings_taking_referrals(
    *, clinic: Organization, listing_ids: Iterable[int], at: datetime | None = None
) -> frozenset[int]:
    """Which of these agency listings (page ids) take electronic referrals from ``clinic``: an
    agreement in force for their agency (one query)."""
    return frozenset(
        agreements_in_effect(at)
        .filter(
            Q(clinic=clinic) | Q(clinic__isnull=True), agency__listing__pk__in=list(listing_ids)
        )
        .values_list("agency__listing__pk", flat=True)
    )


def disclosures_for_client(
    *, client: Client, user: User, organization: Organization
) -> QuerySet[AccessLog]:
    """The client's accounting of disclosures, newest first: every time another organization
    saw their data. Only for staff of the client's own clinic; empty for anyone else."""
    if client.organization_id != organization.pk or not user_has_org_perm(
        user, OrgPerm.SEND_REFERRALS, organization
    ):
        return AccessLog.objects.none()
    return (
        # With the duplicates merged into the client (``referrals.services.merging``): the
        # access log keeps naming the record each view was of.
        AccessLog.objects.filter(Q(client=client) | Q(client__merged_into=client))
        .exclude(organization_id=client.organization_id)  # the clinic's own reads: not disclosures
        .select_related("user", "organization", "referral")
        .order_by("-at", "-pk")
    )


# --- private files ---------------------------------------------------------------------------


def signed_forms_visible(*, user: User, organization: Organization | None) -> QuerySet[Consent]:
    """Consents with a signed form that ``user`` may download acting for ``organization``: those
    of the clients of their clinic, for its clinic staff (the clients they see, as
    ``referrals.selectors.clients.clients_visible`` says); none for anyone else (agencies,
    network admins, other clinics and networks)."""
    if (
        organization is None
        or not organization.sends_referrals
        or not user_has_org_perm(user, OrgPerm.SEND_REFERRALS, organization)
    ):
        return Consent.objects.none()
    return Consent.objects.filter(client__organization=organization).exclude(signed_form="")


def agreements_readable(*, user: User) -> QuerySet[DataSharingAgreement]:
    """Agreements whose signed document ``user`` may read: those of the networks they
    administer, and those their organization is a party to (the agency, or the one clinic of
    a clinic-scoped agreement), for its admins and staff."""
    if not user.is_authenticated or not user.is_active:
        return DataSharingAgreement.objects.none()
    if user.is_superuser:
        return DataSharingAgreement.objects.all()
    member_of = organizations_with_perm(user, OrgPerm.VIEW)
    return DataSharingAgreement.objects.filter(
        Q(network__in=networks_with_perm(user, NetworkPerm.ADMINISTER))
        | Q(agency__in=member_of)
        | Q(clinic__in=member_of)
    )


def network_collections(*, network: Network) -> QuerySet[Collection]:
    """The collections the network's admin group holds permissions on (its own collection, made
    with the network), shallowest first."""
    return (
        Collection.objects.filter(group_permissions__group_id=network.admin_group_id)
        .distinct()
        .order_by("depth", "path")
    )


def documents_of_network(*, network: Network) -> QuerySet[Any]:
    """The Wagtail documents kept in the network's collections or below them; a document in
    another network's collection, or in the root collection, is not the network's."""
    return documents_of_networks(networks=[network])


def documents_of_networks(*, networks: Iterable[Network]) -> QuerySet[Any]:
    """The Wagtail documents of any of ``networks`` (see ``documents_of_network``)."""
    paths = [
        c.path
        for c in Collection.objects.filter(
            group_permissions__group__administered_network__in=list(networks), depth__gt=1
        ).distinct()
    ]
    if not paths:
        return get_document_model().objects.none()
    within = Q()
    for path in paths:
        within |= Q(collection__path__startswith=path)
    return get_document_model().objects.filter(within)


def document_readable(*, user: User, document: Any) -> bool:
    """Whether ``user`` may download ``document``: a signed agreement only for those who may
    read one of the agreements it is attached to; any other document for those Wagtail lets
    change or choose it (its collection's permissions)."""
    if not user.is_authenticated or not user.is_active:
        return False
    attached = DataSharingAgreement.objects.filter(document=document)
    if attached.exists():
        return agreements_readable(user=user).filter(document=document).exists()
    policy = policy_registry.get_by_type(get_document_model())
    return policy.user_has_any_permission_for_instance(user, ["change", "choose"], document)


def access_log_for_network(
    *,
    network: Network,
    user: User,
    person: str = "",
    organization: Organization | None = None,
    client_id: int | None = None,
    client_name: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    purpose: str = "",
) -> QuerySet[AccessLog]:
    """The network's access log, newest first, for its admins (empty for anyone else): every
    view of client data, filtered by the person (username, name or e-mail, in part), the
    organization they acted for, the client (its id, or words of its name), the time
    (``since`` included, ``until`` excluded) and the purpose. Rows carry the person, the
    organization, the client and the referral."""
    if not (user.is_active and user.is_superuser) and network.pk not in administered_network_ids(
        user
    ):
        return AccessLog.objects.none()
    rows = AccessLog.objects.filter(network=network)
    if person:
        rows = rows.filter(
            Q(user__username__icontains=person)
            | Q(user__first_name__icontains=person)
            | Q(user__last_name__icontains=person)
            | Q(user__email__icontains=person)
        )
    if organization is not None:
        rows = rows.filter(organization=organization)
    if client_id is not None:
        rows = rows.filter(client_id=client_id)
    for word in client_name.split():
        rows = rows.filter(
            Q(client__first_name__icontains=word) | Q(client__last_name__icontains=word)
        )
    if since is not None:
        rows = rows.filter(at__gte=since)
    if until is not None:
        rows = rows.filter(at__lt=until)
    if purpose:
        rows = rows.filter(purpose=purpose)
    return rows.select_related("user", "organization", "client", "referral").order_by("-at", "-pk")
