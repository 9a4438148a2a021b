"""The typed records an HSDS dataset becomes (``directory.hsds.building`` checks and builds them),
and the ids of the taxonomies Handoff maps to its own fields."""

from __future__ import annotations

import csv
import functools
import uuid
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from typing import Any

from cms.categories import SDOH_CATEGORIES, SDOHCC_SYSTEM

from .reading import Problem

# Deterministic ids for Handoff's own taxonomies, so exports re-import onto the same rows.
NAMESPACE = uuid.UUID("8f6b7f0e-5d1c-4c47-9a4e-6b1d2f3c9a10")
SDOH_TAXONOMY_ID = uuid.uuid5(NAMESPACE, "taxonomy:sdohcc")
FEE_TAXONOMY_ID = uuid.uuid5(NAMESPACE, "taxonomy:fee-type")
REFERRAL_TAXONOMY_ID = uuid.uuid5(NAMESPACE, "taxonomy:referral-method")
FEE_CODES = ("free", "sliding-scale", "fee")
REFERRAL_CODES = ("electronic", "contact-directly")


@functools.cache
def well_known_term_id(taxonomy: str, code: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"term:{taxonomy}:{code}")


def handoff_taxonomies() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the taxonomies Handoff maps to its own fields: SDOH categories, fee type,
    referral method. Exports carry them so attributes can name their terms."""
    taxonomies = [
        {
            "id": str(SDOH_TAXONOMY_ID),
            "name": "SDOHCC",
            "description": "Gravity Project SDOH categories",
            "uri": SDOHCC_SYSTEM,
        },
        {
            "id": str(FEE_TAXONOMY_ID),
            "name": "Handoff fee type",
            "description": "Whether a service is free, sliding scale or charged",
            "uri": "",
        },
        {
            "id": str(REFERRAL_TAXONOMY_ID),
            "name": "Handoff referral method",
            "description": "How a service receives referrals",
            "uri": "",
        },
    ]
    terms = [
        {
            "id": str(well_known_term_id("sdohcc", code)),
            "code": code,
            "name": display,
            "description": display,
            "taxonomy": "SDOHCC",
            "taxonomy_id": str(SDOH_TAXONOMY_ID),
        }
        for code, display in SDOH_CATEGORIES
    ]
    terms += [
        {
            "id": str(well_known_term_id("fee", code)),
            "code": code,
            "name": code,
            "description": f"Fees: {code}",
            "taxonomy": "Handoff fee type",
            "taxonomy_id": str(FEE_TAXONOMY_ID),
        }
        for code in FEE_CODES
    ]
    terms += [
        {
            "id": str(well_known_term_id("referral", code)),
            "code": code,
            "name": code,
            "description": f"Referrals: {code}",
            "taxonomy": "Handoff referral method",
            "taxonomy_id": str(REFERRAL_TAXONOMY_ID),
        }
        for code in REFERRAL_CODES
    ]
    return taxonomies, terms


@dataclass
class PhoneRecord:
    id: uuid.UUID
    number: str
    extension: str = ""
    type: str = ""
    description: str = ""


@dataclass
class LocationRecord:
    id: uuid.UUID
    organization_id: uuid.UUID | None
    name: str
    location_type: str
    alternate_name: str = ""
    description: str = ""
    transportation: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    address_id: uuid.UUID | None = None
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    region: str = ""
    state_province: str = ""
    postal_code: str = ""
    country: str = "US"
    # Handoff's extension column: hide the address from the public (None: not given, keep).
    address_confidential: bool | None = None
    accessibility: str = ""
    languages: list[str] = field(default_factory=list)
    phones: list[PhoneRecord] = field(default_factory=list)
    hours: list[HoursRecord] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    where: tuple[str, int | None] = ("", None)


@dataclass
class HoursRecord:
    id: uuid.UUID
    location_id: uuid.UUID | None
    weekday: int
    opens_at: time
    closes_at: time
    description: str = ""


@dataclass
class ServiceAtLocationRecord:
    id: uuid.UUID
    location_id: uuid.UUID
    description: str = ""


@dataclass
class CostOptionRecord:
    id: uuid.UUID
    option: str = ""
    amount: Decimal | None = None
    currency: str = "USD"
    amount_description: str = ""


@dataclass
class ServiceRecord:
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    status: str
    description: str = ""
    alternate_name: str = ""
    url: str = ""
    email: str = ""
    interpretation_services: str = ""
    application_process: str = ""
    fees_description: str = ""
    wait_time: str = ""
    eligibility_description: str = ""
    minimum_age: int | None = None
    maximum_age: int | None = None
    alert: str = ""
    fee_type: str = "free"
    referral_method: str = "electronic"
    languages: list[str] = field(default_factory=list)
    category_codes: list[str] = field(default_factory=list)
    service_type_ids: list[uuid.UUID] = field(default_factory=list)
    locations: list[ServiceAtLocationRecord] = field(default_factory=list)
    hours: list[HoursRecord] = field(default_factory=list)
    cost_options: list[CostOptionRecord] = field(default_factory=list)
    required_documents: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)
    service_areas: list[tuple[uuid.UUID, str, str]] = field(default_factory=list)
    phones: list[PhoneRecord] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TermRecord:
    id: uuid.UUID
    code: str
    name: str
    description: str
    parent_id: uuid.UUID | None
    taxonomy: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class OrganizationRecord:
    id: uuid.UUID
    name: str
    description: str
    alternate_name: str = ""
    email: str = ""
    website: str = ""
    tax_status: str = ""
    tax_id: str = ""
    year_incorporated: int | None = None
    legal_status: str = ""
    phones: list[PhoneRecord] = field(default_factory=list)
    locations: list[LocationRecord] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """A line of an import's report: a problem in the input and what the import did about it."""

    file: str
    row: int | None
    field: str
    problem: str
    action: str

    @classmethod
    def of(cls, problem: Problem, action: str) -> Finding:
        # A JSON file's problem is located by its path in the file, not by a row.
        file = f"{problem.file} {problem.path}" if problem.path else problem.file
        return cls(file, problem.row, problem.field, problem.message, action)

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file} row {self.row}"
        return f"{where}, {self.field or '-'}: {self.problem} ({self.action})"


# What the import did about a finding (the report's last column).
REFUSED = "refused: nothing was imported"
RECORD_SKIPPED = "record skipped"
ROW_DROPPED = "row dropped"
REFERENCE_DROPPED = "reference dropped"
COORDINATES_GEOCODED = "coordinates dropped; the location is placed from its address"
COORDINATES_DROPPED = "coordinates dropped; the location has no address to place it from"
MADE_TOP_LEVEL = "parent dropped; the term is a top-level term"
TAXONOMY_DROPPED = "taxonomy reference dropped; the term keeps its taxonomy name"
# Actions that repair the input (applied in both modes); every other finding skips something.
REPAIRS = (
    REFERENCE_DROPPED,
    COORDINATES_GEOCODED,
    COORDINATES_DROPPED,
    MADE_TOP_LEVEL,
    TAXONOMY_DROPPED,
)


@dataclass
class Directory:
    organizations: list[OrganizationRecord]
    service_types: list[TermRecord]
    warnings: list[Problem]
    # Every problem found and what was done about it: repairs, and (skip-invalid) what was skipped.
    findings: list[Finding] = field(default_factory=list)
    # Ids of rows left out: a stored object with one of them is kept as it was, not deleted.
    skipped_ids: set[uuid.UUID] = field(default_factory=set)

    @property
    def service_count(self) -> int:
        return sum(len(o.services) for o in self.organizations)


class InvalidImport(Exception):
    """The input has problems; nothing was imported. ``problems`` lists every one;
    ``findings`` is the whole report (the problems, refused, and the repairs that were made)."""

    def __init__(
        self,
        problems: list[Problem],
        warnings: list[Problem] | None = None,
        findings: list[Finding] | None = None,
    ) -> None:
        self.problems = problems
        self.warnings = warnings or []
        self.findings = (
            findings if findings is not None else [Finding.of(p, REFUSED) for p in problems]
        )
        super().__init__(f"{len(problems)} problem(s) in the input; nothing was imported")


REPORT_COLUMNS = ("file", "row", "field", "problem", "what was done")


def report_csv_write(findings: list[Finding], stream: Any) -> None:
    """Write an import's report as CSV (``REPORT_COLUMNS``) to a text stream."""
    writer = csv.writer(stream)
    writer.writerow(REPORT_COLUMNS)
    for finding in findings:
        writer.writerow(
            [
                finding.file,
                "" if finding.row is None else finding.row,
                finding.field,
                finding.problem,
                finding.action,
            ]
        )
