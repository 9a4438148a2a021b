"""The demo networks, read from their files under ``demo/data/<network>/``.

* ``hsds/``: the network's directory, an HSDS 3.0 Tabular Data Package (``datapackage.json`` and
  one CSV file per table), read by the same reader as ``manage.py hsds_import``; its ids are
  stable, so that seeding again upserts the same rows.
* ``network.toml``: the network itself, its clinics, the organizations behind its listings, the
  people who sign in (one per role) and the referral loop's example client.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from directory.hsds.reading import Dataset, read
from network.models import OrganizationKind, Role
from network.services import ORGANIZATION_CONTACT_FIELDS

DATA_DIR = Path(__file__).resolve().parent / "data"
# In seeding order (organization and page ids follow it).
NETWORKS = ("humboldt", "del-norte")


class DemoDataError(ValueError):
    """A demo data file is missing something or says something the demo cannot load."""


@dataclass(frozen=True)
class OrganizationSpec:
    slug: str
    name: str
    kind: str
    details: dict[str, str]  # network.services.ORGANIZATION_CONTACT_FIELDS


@dataclass(frozen=True)
class Person:
    username: str
    email: str
    first_name: str
    last_name: str
    role: Role
    organization: str | None  # slug; None for a network admin
    also: tuple[str, ...]  # the same role in these organizations too


@dataclass(frozen=True)
class Agreements:
    by: str  # username
    fields: tuple[str, ...]
    effective_from: date


@dataclass(frozen=True)
class ReferralExample:
    service: str  # HSDS id of the service
    categories: tuple[str, ...]
    idempotency_key: str
    note: str


@dataclass(frozen=True)
class ConsentExample:
    categories: tuple[str, ...]
    method: str
    attestation: str
    whole_network: bool


@dataclass(frozen=True)
class ClientExample:
    clinic: str  # slug
    by: str  # username
    first_name: str
    last_name: str
    date_of_birth: date
    phone: str
    preferred_language: str
    screening: dict[str, str]  # LOINC question code -> answer code
    consent: ConsentExample
    referral: ReferralExample


@dataclass(frozen=True)
class HistorySpec:
    seed: int
    days: int  # how far back the history goes
    referrals: int
    clients: int
    clinics: tuple[str, ...]  # slugs of the clinics that send
    by: str  # clinic staff username (a member of every clinic above)
    agencies: dict[str, tuple[str, ...]]  # receiving agency slug -> needs it is sent for
    confirmed: tuple[str, ...]  # agencies whose listings are confirmed


@dataclass(frozen=True)
class DemoNetwork:
    slug: str
    name: str
    time_zone: str
    hostname: str
    default_site: bool
    intro: str
    clinics: tuple[OrganizationSpec, ...]
    agencies: tuple[OrganizationSpec, ...]
    people: tuple[Person, ...]
    agreements: Agreements
    client: ClientExample
    history: HistorySpec | None = None

    @property
    def organizations(self) -> tuple[OrganizationSpec, ...]:
        return (*self.clinics, *self.agencies)


def directory_path(slug: str) -> Path:
    """The folder of a demo network's HSDS package (``manage.py hsds_import`` takes it too)."""
    return DATA_DIR / slug / "hsds"


def directory_dataset(slug: str) -> Dataset:
    """A demo network's directory as the HSDS reader reads it, for ``directory_import``."""
    return read(directory_path(slug))


def demo_network(slug: str, dataset: Dataset | None = None) -> DemoNetwork:
    """A demo network's ``network.toml``, with its agencies' details from its HSDS package
    (``dataset``, read from the files if not given)."""
    path = DATA_DIR / slug / "network.toml"
    try:
        with path.open("rb") as handle:
            data = _Table(tomllib.load(handle), str(path))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DemoDataError(f"{path}: {exc}") from exc
    network = data.table("network")
    directory = data.table("directory")
    client = data.table("client")
    agreements = data.table("agreements")
    referral = client.table("referral")
    consent = client.table("consent")
    result = DemoNetwork(
        slug=network.text("slug"),
        name=network.text("name"),
        time_zone=network.text("time_zone"),
        hostname=network.text("hostname"),
        default_site=network.value("default_site", bool),
        intro=network.text("intro"),
        clinics=tuple(_clinic(item) for item in data.tables("clinics")),
        agencies=_agencies(
            directory.tables("agencies"),
            directory_dataset(slug) if dataset is None else dataset,
            str(path),
        ),
        people=tuple(_person(item) for item in data.tables("people")),
        agreements=Agreements(
            by=agreements.text("by"),
            fields=tuple(agreements.value("fields", list)),
            effective_from=agreements.value("effective_from", date),
        ),
        client=ClientExample(
            clinic=client.text("clinic"),
            by=client.text("by"),
            first_name=client.text("first_name"),
            last_name=client.text("last_name"),
            date_of_birth=client.value("date_of_birth", date),
            phone=client.text("phone"),
            preferred_language=client.text("preferred_language"),
            screening=client.value("screening", dict),
            consent=ConsentExample(
                categories=tuple(consent.value("categories", list)),
                method=consent.text("method"),
                attestation=consent.text("attestation"),
                whole_network=consent.value("whole_network", bool),
            ),
            referral=ReferralExample(
                service=referral.text("service"),
                categories=tuple(referral.value("categories", list)),
                idempotency_key=referral.text("idempotency_key"),
                note=referral.text("note"),
            ),
        ),
    )
    if "history" in data.data:
        result = replace(result, history=_history(data.table("history")))
    if result.slug != slug:
        raise DemoDataError(f"{path}: network.slug is {result.slug!r}, expected {slug!r}")
    _check_references(result, str(path))
    return result


class _Table:
    """Typed access to one TOML table; a missing or mistyped key names the file and the key."""

    def __init__(self, data: dict[str, Any], where: str) -> None:
        self.data = data
        self.where = where

    def value(self, key: str, kind: type) -> Any:
        value = self.data.get(key)
        if not isinstance(value, kind):
            raise DemoDataError(f"{self.where}: {key} must be a {kind.__name__}, not {value!r}")
        return value

    def text(self, key: str) -> str:
        return str(self.value(key, str))

    def table(self, key: str) -> _Table:
        return _Table(self.value(key, dict), f"{self.where} [{key}]")

    def tables(self, key: str) -> list[_Table]:
        return [
            _Table(item, f"{self.where} {key}[{index}]")
            for index, item in enumerate(self.value(key, list))
        ]


def _clinic(item: _Table) -> OrganizationSpec:
    details = {
        field: item.text(field) for field in ORGANIZATION_CONTACT_FIELDS if field in item.data
    }
    return OrganizationSpec(
        slug=item.text("slug"), name=item.text("name"), kind=item.text("kind"), details=details
    )


def _history(item: _Table) -> HistorySpec:
    agencies = item.value("agencies", dict)
    return HistorySpec(
        seed=item.value("seed", int),
        days=item.value("days", int),
        referrals=item.value("referrals", int),
        clients=item.value("clients", int),
        clinics=tuple(item.value("clinics", list)),
        by=item.text("by"),
        agencies={str(slug): tuple(needs) for slug, needs in agencies.items()},
        confirmed=tuple(item.value("confirmed", list)),
    )


def _person(item: _Table) -> Person:
    role = item.text("role")
    if role not in Role.values:
        raise DemoDataError(f"{item.where}: unknown role {role!r}")
    organization = item.data.get("organization")
    return Person(
        username=item.text("username"),
        email=item.text("email"),
        first_name=item.text("first_name"),
        last_name=item.text("last_name"),
        role=Role(role),
        organization=None if organization is None else item.text("organization"),
        also=tuple(item.value("also", list)) if "also" in item.data else (),
    )


def _agencies(items: list[_Table], dataset: Dataset, where: str) -> tuple[OrganizationSpec, ...]:
    """The listed organizations with their details from the HSDS package, matched by name."""
    by_name = {row["name"]: row for row in dataset.rows("organizations")}
    phones: dict[str, str] = {}
    for row in dataset.rows("phones"):
        phones.setdefault(row.get("organization_id", ""), row["number"])
    location_of: dict[str, str] = {}
    for row in dataset.rows("locations"):
        location_of.setdefault(row.get("organization_id", ""), row["id"])
    addresses: dict[str, dict[str, Any]] = {}
    for row in dataset.rows("addresses"):
        addresses.setdefault(row.get("location_id", ""), row)
    result = []
    for item in items:
        organization = by_name.get(item.text("name"))
        if organization is None:
            raise DemoDataError(f"{item.where}: no organization of that name in the HSDS package")
        address = addresses.get(location_of.get(organization["id"], ""), {})
        details = {
            "description": organization.get("description", ""),
            "phone": phones.get(organization["id"], ""),
            "email": organization.get("email", ""),
            "website": organization.get("website", ""),
            "address_1": address.get("address_1", ""),
            "city": address.get("city", ""),
            "state": address.get("state_province", ""),
            "postal_code": address.get("postal_code", ""),
        }
        result.append(
            OrganizationSpec(
                slug=item.text("slug"),
                name=organization["name"],
                kind=item.text("kind"),
                details=details,
            )
        )
    unlisted = set(by_name) - {spec.name for spec in result}
    if unlisted:
        raise DemoDataError(f"{where}: [directory] agencies does not list {sorted(unlisted)}")
    return tuple(result)


def _check_references(network: DemoNetwork, where: str) -> None:
    """Every slug and username the file names is one of its own, of the right kind."""
    clinics = {spec.slug for spec in network.clinics}
    agencies = {spec.slug for spec in network.agencies}
    usernames = {person.username for person in network.people}
    for spec in network.organizations:
        if spec.kind not in OrganizationKind.values:
            raise DemoDataError(f"{where}: {spec.slug} has unknown kind {spec.kind!r}")
    for person in network.people:
        for slug in (person.organization, *person.also):
            if slug is not None and slug not in clinics | agencies:
                raise DemoDataError(f"{where}: {person.username} names unknown {slug!r}")
        if person.organization is None and person.role != Role.NETWORK_ADMIN:
            raise DemoDataError(f"{where}: {person.username} needs an organization")
    if network.client.clinic not in clinics:
        raise DemoDataError(f"{where}: [client] clinic {network.client.clinic!r} is no clinic")
    for username in (network.agreements.by, network.client.by):
        if username not in usernames:
            raise DemoDataError(f"{where}: {username!r} is not one of the people")
    history = network.history
    if history is not None:
        if history.by not in usernames:
            raise DemoDataError(f"{where}: [history] by {history.by!r} is not one of the people")
        for slug in history.clinics:
            if slug not in clinics:
                raise DemoDataError(f"{where}: [history] clinic {slug!r} is no clinic")
        for slug in (*history.agencies, *history.confirmed):
            if slug not in agencies:
                raise DemoDataError(f"{where}: [history] agency {slug!r} is no agency")
