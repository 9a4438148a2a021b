"""Loading a demo network into the database, through the same services as real use: the network
and its organizations, its directory through the HSDS importer, one login per role, the
agreements, the referral loop's example client, and the demo EHR that signs in to the FHIR API
(``demo/fhir_client.py``). Every step leaves what is already there."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ObjectDoesNotExist
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from jwt.algorithms import ECAlgorithm
from wagtail.models import Page, Site

from consent import services as consent_services
from consent.models import DataSharingAgreement
from directory.hsds.import_writes import ImportReport
from directory.hsds.importing import directory_import
from directory.hsds.reading import Dataset
from directory.models import ServicePage
from network import services, smart, two_factor
from network.middleware import site_networks_changed
from network.models import ApiClient, ApiClientRole, Network, Organization, Role, User
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
        site_networks_changed()  # an update() sends no signal: the kept host→network goes
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


# --- the demo EHR: a system of the example clinic, signed in to the FHIR API -------------------

DEMO_EHR_NAME = "Demo EHR (demo/fhir_client.py)"
DEMO_EHR_FILE = "demo-ehr.json"
DEMO_EHR_ALG = "ES384"
# The clinic's side of the referral loop (SMART v2 system scopes), all the example client asks.
DEMO_EHR_SCOPES = (
    "system/Patient.cruds",
    "system/QuestionnaireResponse.cruds",
    "system/Observation.rs",
    "system/Condition.rs",
    "system/Consent.cruds",
    "system/ServiceRequest.cruds",
    "system/Task.cruds",
    "system/Procedure.rs",
    "system/Organization.rs",
    "system/Location.rs",
    "system/HealthcareService.rs",
    "system/Subscription.cruds",
)


@dataclass(frozen=True)
class DemoEhr:
    """The demo EHR's registration and the credentials the example client reads; ``changed``:
    they differ from what the credentials file holds (write it)."""

    client: ApiClient
    credentials: dict[str, Any]
    changed: bool


def demo_ehr_path(var_dir: Path) -> Path:
    """Where ``seed_demo`` writes the demo EHR's credentials (``var/``: never committed)."""
    return var_dir / DEMO_EHR_FILE


def demo_ehr_read(path: Path) -> dict[str, Any] | None:
    """What the credentials file holds (None: no file, or not one of ours)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def demo_ehr_write(path: Path, credentials: dict[str, Any]) -> None:
    """Write the credentials readable by their owner only (0600), replacing the file at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", text=True)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(credentials, out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _ehr_key_pair() -> tuple[str, dict[str, Any], str]:
    """A new ES384 key pair: (kid, public JWK, private key PEM)."""
    private = ec.generate_private_key(ec.SECP384R1())
    kid = f"demo-ehr-{secrets.token_hex(4)}"
    public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    jwk = {**public, "kid": kid, "alg": DEMO_EHR_ALG, "use": "sig"}
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return kid, jwk, pem


def _key_still_registered(client: ApiClient, current: dict[str, Any] | None) -> bool:
    if not current or current.get("client_id") != client.client_id:
        return False
    if not client.is_active or not isinstance(current.get("private_key_pem"), str):
        return False
    kids = {key.get("kid") for key in client.jwks.get("keys", []) if isinstance(key, dict)}
    return current.get("kid") in kids


def demo_ehr_seed(
    *,
    network: Network,
    clinic: Organization,
    site: str,
    current: dict[str, Any] | None,
    agency: Organization | None = None,
    agency_login: str = "",
) -> DemoEhr:
    """The demo EHR of ``clinic``, registered once as the operator would
    (``api_client_register``, by=None) with a key pair made here. The private key is never
    stored in the database, only in the credentials file, whose contents are ``current`` (None:
    no file): a client whose key that file still holds is left as it is; without it (the file
    was removed, or belongs to another database) the client gets a new key pair. ``site`` is
    the network's address (``http://127.0.0.1:8000``); ``agency`` and ``agency_login``, the
    agency the example refers to and the login that works its referrals."""
    client = ApiClient.objects.filter(network=network, name=DEMO_EHR_NAME).first()
    if client is None:
        kid, jwk, pem = _ehr_key_pair()
        client = smart.api_client_register(
            network=network,
            organization=clinic,
            name=DEMO_EHR_NAME,
            role=ApiClientRole.CLINIC,
            jwks={"keys": [jwk]},
            scopes=DEMO_EHR_SCOPES,
            by=None,
        )
    elif current is not None and _key_still_registered(client, current):
        kid, pem = str(current["kid"]), str(current["private_key_pem"])
    else:
        kid, jwk, pem = _ehr_key_pair()
        client = smart.api_client_update(
            client=client, by=None, jwks={"keys": [jwk]}, scopes=client.scopes, is_active=True
        )
    credentials: dict[str, Any] = {
        "about": (
            "Demo-only credentials of the demo EHR, written by `manage.py seed_demo` for "
            "`python -m demo.fhir_client`. A private key: keep it out of version control."
        ),
        "fhir_base": f"{site}/fhir/r4/",
        "client_id": client.client_id,
        "kid": kid,
        "alg": DEMO_EHR_ALG,
        "private_key_pem": pem,
        "scope": " ".join(client.scopes),
        "organization": {
            "reference": f"Organization/{client.organization_id}",
            "display": client.organization.name,
        },
        "portal": f"{site}/accounts/login/",
    }
    if agency is not None:
        credentials["agency"] = {
            "identifier": agency.slug,
            "display": agency.name,
            "login": agency_login,
        }
    return DemoEhr(client=client, credentials=credentials, changed=credentials != current)


def demo_network_ehr(
    network: Network, spec: DemoNetwork, *, port: int, current: dict[str, Any] | None
) -> DemoEhr:
    """The demo EHR of a demo network: for the example client's clinic, referring to the
    agency of the network's first agency staff login."""
    staff = next((p for p in spec.people if p.role == Role.AGENCY_STAFF and p.organization), None)
    agency = (
        Organization.objects.get(network=network, slug=staff.organization)
        if staff is not None and staff.organization is not None
        else None
    )
    return demo_ehr_seed(
        network=network,
        clinic=Organization.objects.get(network=network, slug=spec.client.clinic),
        site=f"http://{spec.hostname}:{port}",
        current=current,
        agency=agency,
        agency_login=staff.username if staff is not None else "",
    )
