"""Loading a demo network into the database, through the same services as real use: the network
and its organizations, its directory through the HSDS importer, one login per role, the
agreements and the referral loop's example client. Every step leaves what is already there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from wagtail.models import Page, Site

from consent import services as consent_services
from consent.models import DataSharingAgreement
from directory.hsds.import_writes import ImportReport
from directory.hsds.importing import directory_import
from directory.hsds.reading import Dataset
from directory.models import ServicePage
from network import services, two_factor
from network.models import Network, Organization, Role, User
from referrals.models import Client
from referrals.services.clients import client_create, screening_record
from referrals.services.sending import referral_send
from search.services import search_index_rebuild

from .history import history_seed
from .networks import DemoNetwork, OrganizationSpec

# The demo's admins share one authenticator secret (hex, as django-otp stores it), so one entry
# in an authenticator app signs in as any of them. Demo-only, like the password.
DEMO_TOTP_KEY = b"handoff-demo-2fa-key".hex()


class DemoSeedError(Exception):
    """The demo data cannot be loaded as it is (the message says what to fix)."""


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    where: str


def remove_wagtail_placeholder_site() -> None:
    """Wagtail's install creates a 'Welcome' site; the demo's networks replace it."""
    for site in Site.objects.filter(network__isnull=True):
        root = site.root_page
        site.delete()
        if root.depth == 2 and not root.get_children().exists() and root.specific_class is Page:
            root.delete()


def network_seed(
    spec: DemoNetwork, dataset: Dataset, *, port: int, password: str
) -> tuple[Network, ImportReport, list[Login]]:
    """One demo network with its organizations, directory, people and referral loop."""
    network = _network(spec, port)
    organizations = _organizations(network, spec.organizations)
    # The directory goes through the HSDS importer, like any network's real data.
    report = directory_import(network=network, dataset=dataset)
    # Also a demo database seeded before search existed gets its search index.
    search_index_rebuild(network=network)
    logins = _people(network, organizations, spec, password)
    _agreements(organizations, spec)
    _referral_loop(network, organizations, spec)
    if spec.history is not None:
        history_seed(
            network=network,
            organizations=organizations,
            spec=spec.history,
            effective_from=spec.agreements.effective_from,
        )
    return network, report, logins


def _network(spec: DemoNetwork, port: int) -> Network:
    network = Network.objects.filter(slug=spec.slug).first()
    if network is None:
        network = services.network_create(
            name=spec.name,
            slug=spec.slug,
            hostname=spec.hostname,
            port=port,
            time_zone=spec.time_zone,
            is_default_site=spec.default_site,
            intro=spec.intro,
        )
    elif (network.site.hostname, network.site.port) != (spec.hostname, port):
        Site.objects.filter(pk=network.site_id).update(hostname=spec.hostname, port=port)
    return network


def _organizations(
    network: Network, specs: tuple[OrganizationSpec, ...]
) -> dict[str, Organization]:
    existing = {org.slug: org for org in Organization.objects.filter(network=network)}
    result: dict[str, Organization] = {}
    for spec in specs:
        details: dict[str, Any] = dict(spec.details)
        org = existing.get(spec.slug)
        if org is None:
            org = services.organization_create(
                network=network, name=spec.name, slug=spec.slug, kind=spec.kind, **details
            )
        else:
            changes = {
                k: v
                for k, v in {"name": spec.name, "kind": spec.kind, **details}.items()
                if getattr(org, k) != v
            }
            if changes:
                org = services.organization_update(organization=org, **changes)
        result[org.slug] = org
    return result


def _user(username: str, first: str, last: str, email: str, password: str) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user = services.user_create(
            username=username, email=email, first_name=first, last_name=last, password=password
        )
    return user


def _people(
    network: Network, organizations: dict[str, Organization], spec: DemoNetwork, password: str
) -> list[Login]:
    logins = []
    for person in spec.people:
        user = _user(person.username, person.first_name, person.last_name, person.email, password)
        label = str(Role(person.role).label)
        if person.organization is None:
            services.membership_grant(user=user, role=person.role, network=network, notify=False)
            logins.append(Login(user.username, label, str(network)))
        else:
            organization = organizations[person.organization]
            services.membership_grant(
                user=user, role=person.role, organization=organization, notify=False
            )
            logins.append(Login(user.username, label, str(organization)))
    # Someone in more organizations, to show switching the active organization.
    for person in spec.people:
        for slug in person.also:
            user = User.objects.get(username=person.username)
            services.membership_grant(
                user=user, role=person.role, organization=organizations[slug], notify=False
            )
            label = str(Role(person.role).label)
            logins.append(Login(user.username, label, f"also {organizations[slug]}"))
    return logins


def operator_seed(password: str) -> Login:
    """The platform operator: a superuser who sees every network (demo only)."""
    user = User.objects.filter(username="operator").first()
    if user is None:
        user = services.user_create(
            username="operator",
            email="operator@handoff.example.org",
            first_name="Platform",
            last_name="Operator",
            password=password,
        )
    if not user.is_superuser:
        User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
    return Login("operator", "superuser", "all networks")


def two_factor_enrol() -> TOTPDevice:
    """Every demo account that must use two-factor sign-in gets the demo authenticator; returns
    one of them (they share the key)."""
    device = None
    for user in User.objects.all():
        if not two_factor.two_factor_required(user=user):
            continue
        device, _ = TOTPDevice.objects.get_or_create(
            user=user,
            name="Demo authenticator",
            defaults={"key": DEMO_TOTP_KEY, "confirmed": True},
        )
    if device is None:
        raise DemoSeedError("No demo account needs two-factor sign-in.")
    return device


def current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"


def _agreements(organizations: dict[str, Organization], spec: DemoNetwork) -> None:
    """An active data-sharing agreement for every agency that has none."""
    admin = User.objects.get(username=spec.agreements.by)
    for agency_spec in spec.agencies:
        agency = organizations[agency_spec.slug]
        if DataSharingAgreement.objects.filter(agency=agency).exists():
            continue
        agreement = consent_services.agreement_create(
            by=admin,
            agency=agency,
            fields=list(spec.agreements.fields),
            effective_from=spec.agreements.effective_from,
        )
        consent_services.agreement_activate(agreement=agreement, by=admin)


def _referral_loop(
    network: Network, organizations: dict[str, Organization], spec: DemoNetwork
) -> None:
    """One consented client, screened and referred (once: not if the clinic has clients)."""
    example = spec.client
    clinic = organizations[example.clinic]
    if Client.objects.filter(organization=clinic).exists():
        return
    staff = User.objects.get(username=example.by)
    try:
        service = (
            ServicePage.objects.live()
            .descendant_of(network.root_page)
            .get(hsds_id=example.referral.service)
        )
    except ObjectDoesNotExist as exc:
        raise DemoSeedError(
            f"{spec.slug}: no live service {example.referral.service} for the demo referral"
        ) from exc
    if service.referral_method != "electronic":
        raise DemoSeedError(f"{spec.slug}: {service.title} does not take electronic referrals")
    client = client_create(
        organization=clinic,
        by=staff,
        first_name=example.first_name,
        last_name=example.last_name,
        date_of_birth=example.date_of_birth,
        phone=example.phone,
        preferred_language=example.preferred_language,
        confirm_new=True,
    )
    screening_record(client=client, by=staff, organization=clinic, answers=dict(example.screening))
    consent_services.consent_record(
        client=client,
        by=staff,
        organization=clinic,
        categories=list(example.consent.categories),
        method=example.consent.method,
        attestation=example.consent.attestation,
        whole_network=example.consent.whole_network,
    )
    referral_send(
        client=client,
        by=staff,
        sender=clinic,
        service=service,
        categories=list(example.referral.categories),
        idempotency_key=example.referral.idempotency_key,
        note=example.referral.note,
    )
