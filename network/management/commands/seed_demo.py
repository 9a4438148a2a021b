"""Load the demo: Humboldt County and Del Norte County networks, their organizations and one login
per role in each. Idempotent: running it again changes nothing that is already there."""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from wagtail.models import Page, Site

from directory.hsds.import_writes import ImportReport
from directory.hsds.importing import directory_import
from network import services, two_factor
from network.demo import del_norte, humboldt
from network.demo.hsds import demo_dataset
from network.models import Client, Network, Organization, Role, User
from search.services import search_index_rebuild

DEMO_PASSWORD_DEFAULT = "handoff-demo"  # noqa: S105 — demo-only, refused outside dev and test
# The demo's admins share one authenticator secret (hex, as django-otp stores it), so one entry
# in an authenticator app signs in as any of them. Demo-only, like the password.
DEMO_TOTP_KEY = b"handoff-demo-2fa-key".hex()

# (demo module, host name, username prefix)
DEMO_NETWORKS: list[tuple[ModuleType, str, str]] = [
    (humboldt, "127.0.0.1", "hum"),
    (del_norte, "delnorte.localhost", "dn"),
]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port", type=int, default=8000, help="Port the demo is served on (the sites' port)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.HANDOFF_ALLOW_DEMO_DATA:
            raise CommandError("Demo data is disabled in these settings (HANDOFF_ALLOW_DEMO_DATA).")
        password = os.environ.get("HANDOFF_DEMO_PASSWORD", DEMO_PASSWORD_DEFAULT)
        logins: list[tuple[str, str, str]] = []
        reports: list[tuple[str, ImportReport]] = []
        with transaction.atomic():
            _remove_wagtail_placeholder_site()
            for index, (module, hostname, prefix) in enumerate(DEMO_NETWORKS):
                network = _network(module, hostname, options["port"], is_default=index == 0)
                organizations = _organizations(network, [*module.CLINICS, *module.AGENCIES])
                # The directory goes through the HSDS importer, like any network's real data.
                report = directory_import(network=network, dataset=demo_dataset(module))
                # Also a demo database seeded before search existed gets its search index.
                search_index_rebuild(network=network)
                reports.append((network.name, report))
                logins += _people(network, organizations, module, prefix, password)
                _referral_loop(network, organizations, module, prefix)
            logins.append(_operator(password))
            demo_authenticator = _two_factor_enrol()
        for name, report in reports:
            self.stdout.write(f"{name}: {report.summary() if report.changed else 'up to date'}")
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {password})"))
        for username, role, where in logins:
            self.stdout.write(f"  {username:<24} {role:<16} {where}")
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS("Two-factor sign-in (network, clinic and agency admins, operator)")
        )
        self.stdout.write(
            "  After the password, type the code of an authenticator app holding this key:\n"
            f"    {two_factor.authenticator_secret(device=demo_authenticator)}\n"
            f"  or this code, valid for about 30 seconds: {_current_code(demo_authenticator)}\n"
            "  (codes change every 30 seconds; any TOTP app or tool takes the key, e.g.\n"
            "  oathtool --totp --base32 'KEY')"
        )


def _remove_wagtail_placeholder_site() -> None:
    """Wagtail's install creates a 'Welcome' site; the demo's networks replace it."""
    for site in Site.objects.filter(network__isnull=True):
        root = site.root_page
        site.delete()
        if root.depth == 2 and not root.get_children().exists() and root.specific_class is Page:
            root.delete()


def _network(module: ModuleType, hostname: str, port: int, *, is_default: bool) -> Network:
    spec = module.NETWORK
    network = Network.objects.filter(slug=spec["slug"]).first()
    if network is None:
        network = services.network_create(
            name=spec["name"],
            slug=spec["slug"],
            hostname=hostname,
            port=port,
            time_zone=spec["time_zone"],
            is_default_site=is_default,
            intro=spec.get(
                "intro",
                "Find community services near you: food, housing, rides, "
                "utilities, safety, jobs and health coverage.",
            ),
        )
    elif (network.site.hostname, network.site.port) != (hostname, port):
        Site.objects.filter(pk=network.site_id).update(hostname=hostname, port=port)
    return network


def _organizations(network: Network, specs: list[dict[str, Any]]) -> dict[str, Organization]:
    existing = {org.slug: org for org in Organization.objects.filter(network=network)}
    result: dict[str, Organization] = {}
    for spec in specs:
        details = {
            field: spec[field] for field in services.ORGANIZATION_CONTACT_FIELDS if field in spec
        }
        org = existing.get(spec["slug"])
        if org is None:
            org = services.organization_create(
                network=network, name=spec["name"], slug=spec["slug"], kind=spec["kind"], **details
            )
        else:
            changes = {
                k: v
                for k, v in {"name": spec["name"], "kind": spec["kind"], **details}.items()
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
    network: Network,
    organizations: dict[str, Organization],
    module: ModuleType,
    prefix: str,
    password: str,
) -> list[tuple[str, str, str]]:
    clinics = [organizations[c["slug"]] for c in module.CLINICS]
    agencies = [organizations[a["slug"]] for a in module.AGENCIES]
    domain = f"{network.slug}.example.org"
    cast: list[tuple[str, str, str, str, Organization | None]] = [
        ("network-admin", "Morgan", "Reyes", Role.NETWORK_ADMIN, None),
        ("clinic-admin", "Priya", "Natarajan", Role.CLINIC_ADMIN, clinics[0]),
        ("clinic-staff", "Sam", "Okafor", Role.CLINIC_STAFF, clinics[0]),
        ("agency-admin", "Dana", "Whitehorse", Role.AGENCY_ADMIN, agencies[0]),
        ("agency-staff", "Luis", "Camacho", Role.AGENCY_STAFF, agencies[0]),
    ]
    logins = []
    for suffix, first, last, role, organization in cast:
        username = f"{prefix}-{suffix}"
        user = _user(username, first, last, f"{username}@{domain}", password)
        if organization is None:
            services.membership_grant(user=user, role=role, network=network, notify=False)
        else:
            services.membership_grant(user=user, role=role, organization=organization, notify=False)
        logins.append((username, str(Role(role).label), str(organization or network)))
    if len(clinics) > 1:
        # One person in two clinics, to show switching the active organization.
        staff = User.objects.get(username=f"{prefix}-clinic-staff")
        services.membership_grant(
            user=staff, role=Role.CLINIC_STAFF, organization=clinics[1], notify=False
        )
        logins.append((staff.username, str(Role.CLINIC_STAFF.label), f"also {clinics[1]}"))
    return logins


def _operator(password: str) -> tuple[str, str, str]:
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
    return ("operator", "superuser", "all networks")


def _two_factor_enrol() -> TOTPDevice:
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
        raise CommandError("No demo account needs two-factor sign-in.")
    return device


def _current_code(device: TOTPDevice) -> str:
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"


DEMO_AGREED_FIELDS = ["name", "phone", "preferred_language", "contact_preferences", "note"]


def _referral_loop(
    network: Network, organizations: dict[str, Organization], module: ModuleType, prefix: str
) -> None:
    """Agreements for every agency, and one consented client with referrals (the loop's demo)."""
    from datetime import date

    from consent import services as consent_services
    from consent.models import DataSharingAgreement
    from directory.models import ServicePage

    admin = User.objects.get(username=f"{prefix}-network-admin")
    for spec in module.AGENCIES:
        agency = organizations[spec["slug"]]
        if DataSharingAgreement.objects.filter(agency=agency).exists():
            continue
        agreement = consent_services.agreement_create(
            by=admin, agency=agency, fields=DEMO_AGREED_FIELDS, effective_from=date(2025, 1, 1)
        )
        consent_services.agreement_activate(agreement=agreement, by=admin)
    clinic = organizations[module.CLINICS[0]["slug"]]
    staff = User.objects.get(username=f"{prefix}-clinic-staff")
    if Client.objects.filter(organization=clinic).exists():
        return
    client = services.client_create(
        organization=clinic,
        by=staff,
        first_name="Rosa",
        last_name="Demo",
        date_of_birth=date(1979, 3, 14),
        phone="707-555-0142",
        preferred_language="es",
        confirm_new=True,
    )
    services.screening_record(
        client=client,
        by=staff,
        organization=clinic,
        answers={"71802-3": "LA31994-9", "88122-7": "LA28397-0", "88123-5": "LA6729-3"},
    )
    consent_services.consent_record(
        client=client,
        by=staff,
        organization=clinic,
        categories=["food-insecurity", "housing-instability"],
        method="verbal",
        attestation="I read the network's standard consent script in Spanish.",
        whole_network=True,
    )
    agency = organizations[module.AGENCIES[0]["slug"]]
    listing = getattr(agency, "listing", None)
    if listing is None:
        return
    service = ServicePage.objects.live().descendant_of(listing).first()
    if service is None or service.referral_method != "electronic":
        return
    services.referral_send(
        client=client,
        by=staff,
        sender=clinic,
        service=service,
        categories=["food-insecurity"],
        idempotency_key="demo-1",
        note="Prefers a call after 5 pm, in Spanish.",
    )
