"""HSDS rows -> typed, cross-checked records, and a report of every problem found.

Two modes. Strict (the default, for a file meant to be clean): any problem refuses the whole
file (``InvalidImport``). Skip-invalid: every valid record is built and the rest is reported.

What skip-invalid leaves out, and why (each line of the report says which):
- A row with an invalid cell is skipped whole: an organization, service or location is never
  built from part of its row.
- A row that belongs to another record (phone, schedule, language, address, accessibility,
  service area, cost option, required document, service at location, attribute) is an optional
  part of it: an invalid part is dropped and its record is imported without it.
- A record whose required reference is missing or skipped is skipped too (a service whose
  organization was skipped; a schedule of a skipped service...), and reported.

Safe repairs, made in both modes and reported: coordinates that are not a place are dropped and
the location is placed from its address; a term whose parent is missing becomes a top-level term;
a term whose taxonomy is missing keeps the taxonomy name it carries (the reference is dropped);
a location whose organization is missing joins the organization of the services offered at it
(with no such service it is skipped).

What HSDS 3.0 has and Handoff does not model (contacts, programs, funding, organization
identifiers, accessibility, metadata, additional URLs and every other property of an
organization, service or location) goes into the records' ``extra``: ``hsds_extra``. So do the
language and attribute objects as given (their ids, names, notes and values), and a term's
taxonomy as given, for export and the HSDS API to give them back.
"""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from cms.categories import SDOH_CATEGORIES, SDOHCC_SYSTEM

from . import schema
from .cells import Row
from .reading import Dataset, Problem
from .records import (
    COORDINATES_DROPPED,
    COORDINATES_GEOCODED,
    FEE_CODES,
    FEE_TAXONOMY_ID,
    MADE_TOP_LEVEL,
    RECORD_SKIPPED,
    REFERENCE_DROPPED,
    REFERRAL_CODES,
    REFERRAL_TAXONOMY_ID,
    REFUSED,
    ROW_DROPPED,
    SDOH_TAXONOMY_ID,
    TAXONOMY_DROPPED,
    CostOptionRecord,
    Directory,
    Finding,
    HoursRecord,
    InvalidImport,
    LocationRecord,
    OrganizationRecord,
    PhoneRecord,
    ServiceAtLocationRecord,
    ServiceRecord,
    TermRecord,
)

SDOH_CODES = {code for code, _ in SDOH_CATEGORIES}
SERVICE_STATUSES = ("active", "inactive", "defunct", "temporarily closed")
LOCATION_TYPES = ("physical", "postal", "virtual")
PHONE_TYPES = ("voice", "fax", "text", "cell", "video", "pager", "textphone")
BYDAY = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

# Columns of the three main tables that Handoff maps to its own fields; every other HSDS 3.0
# column of theirs is kept in ``hsds_extra``.
MAPPED_COLUMNS = {
    "organizations": {
        "id", "name", "alternate_name", "description", "email", "website", "url", "tax_status",
        "tax_id", "year_incorporated", "legal_status",
    },
    "services": {
        "id", "organization_id", "name", "alternate_name", "description", "url", "email",
        "status", "interpretation_services", "application_process", "fees_description",
        "wait_time", "eligibility_description", "minimum_age", "maximum_age", "alert",
    },
    "locations": {
        "id", "organization_id", "name", "alternate_name", "description", "location_type",
        "transportation", "latitude", "longitude", "address_confidential",
    },
}  # fmt: skip
# Nested HSDS 3.0 properties (JSON input keeps them as they are) kept in ``hsds_extra``.
NESTED_EXTRA = (
    "contacts", "funding", "programs", "program", "organization_identifiers", "metadata",
    "additional_urls", "additional_websites", "accessibility", "capacities",
)  # fmt: skip
# Properties of the parts Handoff models (as rows of its own) that it has no field for: kept, with
# the part's id, in the owner's ``hsds_extra`` under the part's HSDS key, and given back with it.
UNMODELLED_PARTS = {
    "addresses": ("attention",),
    "schedules": (
        "valid_from", "valid_to", "dtstart", "timezone", "until", "count", "wkst", "interval",
        "byweekno", "bymonthday", "byyearday", "schedule_link", "attending_type", "notes",
    ),
    "service_areas": ("extent", "extent_type", "uri"),
    "cost_options": ("valid_from", "valid_to"),
}  # fmt: skip
MAIN_TABLE = {"organization": "organizations", "service": "services", "location": "locations"}
# The table a referenced record lives in, and how the report names it.
LABEL = {
    "organizations": "organization",
    "services": "service",
    "locations": "location",
    "service_at_location": "service_at_location",
    "taxonomy_terms": "taxonomy term",
    "taxonomies": "taxonomy",
}


def build(dataset: Dataset, *, skip_invalid: bool = False) -> Directory:
    """Check every row and cross-reference; return the records and the report of what was
    repaired (and, with ``skip_invalid``, skipped), or raise InvalidImport (strict mode) listing
    every problem."""
    return _Builder(dataset, skip_invalid).run()


class _Builder:
    def __init__(self, dataset: Dataset, skip_invalid: bool) -> None:
        self.dataset = dataset
        self.skip_invalid = skip_invalid
        self.problems: list[Problem] = list(dataset.errors)
        self.warnings: list[Problem] = list(dataset.warnings)
        self.findings: list[Finding] = []
        if skip_invalid:  # a row that cannot be read is not a record; an unreadable file refuses
            self.findings += [Finding.of(p, ROW_DROPPED) for p in self.problems if p.row]
            self.problems = [p for p in self.problems if not p.row]
        self.ids: dict[str, dict[uuid.UUID, Row]] = defaultdict(dict)
        # Records left out (skip-invalid), by table: id -> where its row is.
        self.skipped: dict[str, dict[uuid.UUID, tuple[str, int | None]]] = defaultdict(dict)
        self.skipped_ids: set[uuid.UUID] = set()
        self.addressed = {str(r.get("location_id", "")).strip() for r in dataset.rows("addresses")}

    # --- the report ------------------------------------------------------------------------------

    def kept(self, row: Row, mark: int, action: str, *, table: str = "") -> bool:
        """Whether the record of ``row`` is kept, given the problems reported since ``mark``.

        Strict mode keeps it (the problems refuse the file). Skip-invalid moves its problems into
        the report with ``action`` and remembers the record as skipped, for its dependents."""
        if len(self.problems) == mark:
            return True
        if not self.skip_invalid:
            return True
        self.findings += [Finding.of(p, action) for p in self.problems[mark:]]
        del self.problems[mark:]
        ident = self._row_id(row)
        if ident is not None:
            self.skipped_ids.add(ident)
            if table:
                self.skipped[table][ident] = row.where
        return False

    def repaired(
        self, row: Row | tuple[str, int | None], column: str, message: str, action: str
    ) -> None:
        if isinstance(row, Row):
            problem = Problem(row.where[0], row.where[1], column, message, row.path)
        else:
            problem = Problem(row[0], row[1], column, message)
        self.findings.append(Finding.of(problem, action))

    def refer(
        self, row: Row, column: str, table: str, known: dict[uuid.UUID, Any], *, required: bool
    ) -> Any:
        """The record ``row.column`` names in ``known``; None (and a problem) if it names none,
        or names a record that was skipped."""
        ident = row.uuid(column, required=required)
        if ident is None:
            return None
        if ident in known:
            return known[ident]
        where = self.skipped[table].get(ident)
        if where is not None:
            row.problem(column, f"its {LABEL[table]} ({where[0]} row {where[1]}) was skipped")
        else:
            row.problem(column, f"no {LABEL[table]} with id {ident}")
        return None

    @staticmethod
    def _row_id(row: Row) -> uuid.UUID | None:
        try:
            return uuid.UUID(row.raw("id"))
        except ValueError:
            return None

    def rows(self, table: str) -> list[Row]:
        result = []
        for raw in self.dataset.rows(table):
            mark = len(self.problems)
            row = Row(raw, self.problems)
            ident = row.uuid("id", required=True)
            if ident is not None:
                if ident in self.ids[table]:
                    first = self.ids[table][ident].where
                    row.problem("id", f"{ident} appears twice (first at row {first[1]})")
                    if self.skip_invalid:  # the first one stands; this one is not a record
                        self.findings += [Finding.of(p, ROW_DROPPED) for p in self.problems[mark:]]
                        del self.problems[mark:]
                    continue
                self.ids[table][ident] = row
            elif not self.kept(row, mark, RECORD_SKIPPED):
                continue
            result.append(row)
        return result

    # --- the whole dataset -----------------------------------------------------------------------

    def run(self) -> Directory:
        organizations = self._organizations(self.rows("organizations"))
        terms, roles = self._terms(self.rows("taxonomies"), self.rows("taxonomy_terms"))
        locations, orphans = self._locations(self.rows("locations"), organizations)
        services = self._services(self.rows("services"), organizations)
        sals = self._service_at_locations(self.rows("service_at_location"), services, locations)
        self._orphans(orphans, locations, services, organizations)
        self._addresses(self.rows("addresses"), self.rows("accessibility"), locations)
        self._phones(self.rows("phones"), organizations, locations, services)
        self._languages(self.rows("languages"), locations, services)
        self._schedules(self.rows("schedules"), services, sals, locations)
        self._service_children(services)
        self._attributes(self.rows("attributes"), services, terms, roles)
        self._extras(organizations, services, locations, sals)

        for location in locations.values():
            if location.organization_id in organizations:
                organizations[location.organization_id].locations.append(location)
        for service in services.values():
            organizations[service.organization_id].services.append(service)
        if self.problems:
            self.findings += [Finding.of(p, REFUSED) for p in self.problems]
            raise InvalidImport(self.problems, self.warnings, self.findings)
        service_types = [t for t in terms.values() if roles.get(t.id) is None]
        return Directory(
            list(organizations.values()),
            _parents_first(service_types),
            self.warnings,
            findings=self.findings,
            skipped_ids=self.skipped_ids,
        )

    def _organizations(self, rows: list[Row]) -> dict[uuid.UUID, OrganizationRecord]:
        organizations: dict[uuid.UUID, OrganizationRecord] = {}
        for row in rows:
            mark = len(self.problems)
            record = OrganizationRecord(
                id=row.uuid("id") or uuid.uuid4(),
                name=row.text("name", required=True, max_length=255),
                description=row.text("description", required=True),
                alternate_name=row.text("alternate_name"),
                email=row.email("email"),
                website=row.url("website") or row.url("url"),
                tax_status=row.text("tax_status"),
                tax_id=row.text("tax_id"),
                year_incorporated=row.integer("year_incorporated", low=1600, high=2200),
                legal_status=row.text("legal_status"),
                extra=_extra_columns(row, "organizations"),
            )
            if self.kept(row, mark, RECORD_SKIPPED, table="organizations"):
                organizations[record.id] = record
        return organizations

    # --- taxonomy --------------------------------------------------------------------------------

    def _terms(
        self, taxonomy_rows: list[Row], term_rows: list[Row]
    ) -> tuple[dict[uuid.UUID, TermRecord], dict[uuid.UUID, tuple[str, str]]]:
        """Taxonomy terms; ``roles`` marks the terms of Handoff's own taxonomies (category...)."""
        taxonomy_names: dict[uuid.UUID, tuple[str, str]] = {}
        details: dict[uuid.UUID, dict[str, Any]] = {}
        for row in taxonomy_rows:
            mark = len(self.problems)
            ident = row.uuid("id")
            name = row.text("name", required=True)
            uri = row.text("uri")
            if self.kept(row, mark, RECORD_SKIPPED, table="taxonomies") and ident:
                taxonomy_names[ident] = (name, uri)
                details[ident] = {**_hsds_object(row), "name": name}
        terms: dict[uuid.UUID, TermRecord] = {}
        roles: dict[uuid.UUID, tuple[str, str]] = {}
        places: dict[uuid.UUID, Row] = {}
        for row in term_rows:
            mark = len(self.problems)
            ident = row.uuid("id")
            taxonomy_id = row.uuid("taxonomy_id")
            taxonomy, uri = row.text("taxonomy"), ""
            extra = _term_extra(row)
            if taxonomy_id in taxonomy_names:
                taxonomy, uri = taxonomy_names[taxonomy_id]
                extra["taxonomy_detail"] = details[taxonomy_id]
            elif taxonomy_id is not None:
                where = self.skipped["taxonomies"].get(taxonomy_id)
                gone = f"its taxonomy ({where[0]} row {where[1]}) was skipped" if where else ""
                self.repaired(
                    row, "taxonomy_id", gone or f"no taxonomy with id {taxonomy_id}",
                    TAXONOMY_DROPPED,
                )  # fmt: skip
            code = row.text("code")
            name = row.text("name", required=True)
            role = _term_role(taxonomy_id, taxonomy, uri, code)
            if role and role[1] == "":
                row.problem("code", f"{code!r} is not a code of the {role[0]} taxonomy")
            description = row.text("description")
            parent_id = row.uuid("parent_id")
            if not self.kept(row, mark, RECORD_SKIPPED, table="taxonomy_terms") or ident is None:
                continue
            if role and role[1] == "":
                continue
            if role:
                roles[ident] = role
            places[ident] = row
            terms[ident] = TermRecord(
                id=ident,
                code=code or str(ident)[:8],
                name=name,
                description=description,
                parent_id=parent_id,
                taxonomy=taxonomy or "Service types",
                extra=extra,
            )
        for term in terms.values():
            if term.parent_id and term.parent_id not in terms:
                where = self.skipped["taxonomy_terms"].get(term.parent_id)
                self.repaired(
                    places[term.id],
                    "parent_id",
                    f"its parent ({where[0]} row {where[1]}) was skipped"
                    if where
                    else f"no taxonomy term with id {term.parent_id} (its parent)",
                    MADE_TOP_LEVEL,
                )
                term.parent_id = None
        return terms, roles

    # --- locations -------------------------------------------------------------------------------

    def _locations(
        self, rows: list[Row], organizations: dict[uuid.UUID, OrganizationRecord]
    ) -> tuple[dict[uuid.UUID, LocationRecord], dict[uuid.UUID, Problem]]:
        """Locations, and those whose organization is missing (``_orphans`` settles them)."""
        locations: dict[uuid.UUID, LocationRecord] = {}
        orphans: dict[uuid.UUID, Problem] = {}
        for row in rows:
            mark = len(self.problems)
            ident = row.uuid("id")
            org_id = row.uuid("organization_id")
            lat, lng = self._coordinates(row)
            record = LocationRecord(
                id=ident or uuid.uuid4(),
                organization_id=org_id if org_id in organizations else None,
                name=row.text("name") or "Main location",
                location_type=row.choice(
                    "location_type", LOCATION_TYPES, required=True, default="physical"
                ),
                alternate_name=row.text("alternate_name"),
                description=row.text("description"),
                transportation=row.text("transportation"),
                address_confidential=row.boolean("address_confidential"),
                latitude=lat,
                longitude=lng,
                extra=_extra_columns(row, "locations"),
                where=row.where,
            )
            if not self.kept(row, mark, RECORD_SKIPPED, table="locations") or ident is None:
                continue
            if org_id is not None and org_id not in organizations:
                where = self.skipped["organizations"].get(org_id)
                orphans[ident] = Problem(
                    row.where[0],
                    row.where[1],
                    "organization_id",
                    f"its organization ({where[0]} row {where[1]}) was skipped"
                    if where
                    else f"no organization with id {org_id}",
                )
            locations[ident] = record
        return locations, orphans

    def _coordinates(self, row: Row) -> tuple[Decimal | None, Decimal | None]:
        """A place, or None, None: coordinates that are not one are dropped (a repair; the
        location is then placed from its address)."""
        raw_lat, raw_lng = row.raw("latitude"), row.raw("longitude")
        if not raw_lat and not raw_lng:
            return None, None
        problem, column = "", "latitude"
        try:
            lat = Decimal(raw_lat) if raw_lat else None
            lng = Decimal(raw_lng) if raw_lng else None
        except InvalidOperation:
            lat = lng = None
            column = "latitude" if not _is_number(raw_lat) else "longitude"
            problem = f"{row.raw(column)!r} is not a number"
        if problem:
            pass
        elif lat is None or lng is None:
            column = "latitude" if lat is None else "longitude"
            problem = "give both latitude and longitude, or neither"
        elif not (lat.is_finite() and -90 <= lat <= 90):
            problem = f"{raw_lat} is outside -90 to 90"
        elif not (lng.is_finite() and -180 <= lng <= 180):
            column, problem = "longitude", f"{raw_lng} is outside -180 to 180"
        elif lat == 0 and lng == 0:
            problem = "0,0 is not a place"
        else:
            return lat, lng
        addressed = row.raw("id") in self.addressed
        self.repaired(
            row, column, problem, COORDINATES_GEOCODED if addressed else COORDINATES_DROPPED
        )
        return None, None

    def _orphans(
        self,
        orphans: dict[uuid.UUID, Problem],
        locations: dict[uuid.UUID, LocationRecord],
        services: dict[uuid.UUID, ServiceRecord],
        organizations: dict[uuid.UUID, OrganizationRecord],
    ) -> None:
        """Settle locations without an organization: one that services are offered at joins
        their organization (a repair); any other is skipped (or refuses the file)."""
        for ident, location in list(locations.items()):
            problem = orphans.get(ident)
            if location.organization_id is not None:
                if problem is not None:
                    owner = organizations[location.organization_id]
                    self.findings.append(
                        Finding.of(
                            problem,
                            f"{REFERENCE_DROPPED}; the location joins {owner.name!r}, the "
                            "organization of the services offered at it",
                        )
                    )
                continue
            problem = problem or Problem(
                location.where[0], location.where[1], "organization_id", "is required"
            )
            problem = Problem(
                problem.file,
                problem.row,
                problem.field,
                f"{problem.message}, and no service is offered at the location",
            )
            if self.skip_invalid:
                self.findings.append(Finding.of(problem, RECORD_SKIPPED))
                self.skipped["locations"][ident] = location.where
                self.skipped_ids.add(ident)
                del locations[ident]
            else:
                self.problems.append(problem)

    def _addresses(
        self,
        address_rows: list[Row],
        accessibility_rows: list[Row],
        locations: dict[uuid.UUID, LocationRecord],
    ) -> None:
        given: list[tuple[LocationRecord, Row, str, dict[str, Any]]] = []
        for row in address_rows:
            mark = len(self.problems)
            location = self.refer(row, "location_id", "locations", locations, required=True)
            address_type = row.raw("address_type").lower() or "physical"
            values = {
                "address_id": row.uuid("id"),
                "address_1": row.text("address_1", required=True),
                "address_2": row.text("address_2"),
                "city": row.text("city", required=True),
                "region": row.text("region"),
                "state_province": row.text("state_province", required=True),
                "postal_code": row.text("postal_code", required=True),
                "country": (row.text("country", max_length=2) or "US").upper(),
            }
            if not self.kept(row, mark, ROW_DROPPED) or location is None:
                continue
            given.append((location, row, address_type, values))
        # A location's address (its fields, the map, search) is its first physical one, else
        # its first. HSDS allows more (a postal address beside the street one): each other is
        # kept whole with the location, and given back after it.
        chosen: dict[int, tuple[Row, str]] = {}
        for location, row, address_type, _values in given:
            first = chosen.get(id(location))
            if first is None or (first[1] != "physical" and address_type == "physical"):
                chosen[id(location)] = (row, address_type)
        for location, row, address_type, values in given:
            if chosen[id(location)][0] is row:
                for name, value in values.items():
                    setattr(location, name, value)
                # Its type, when not the "physical" Handoff gives by default.
                more = {} if address_type == "physical" else {"address_type": address_type}
                _part_keep(location.extra, "addresses", row, more=more)
            else:
                other = {**_hsds_object(row), "address_type": address_type}
                other["country"] = values["country"]
                location.extra.setdefault("addresses", []).append(other)
        for row in accessibility_rows:
            mark = len(self.problems)
            location = self.refer(row, "location_id", "locations", locations, required=True)
            if not self.kept(row, mark, ROW_DROPPED) or location is None:
                continue
            note = row.text("description") or row.text("details")
            if note:
                location.accessibility = f"{location.accessibility}\n{note}".strip()
            location.extra.setdefault("accessibility", []).append(_hsds_object(row))

    # --- services --------------------------------------------------------------------------------

    def _services(
        self, rows: list[Row], organizations: dict[uuid.UUID, OrganizationRecord]
    ) -> dict[uuid.UUID, ServiceRecord]:
        services: dict[uuid.UUID, ServiceRecord] = {}
        for row in rows:
            mark = len(self.problems)
            ident = row.uuid("id")
            organization = self.refer(
                row, "organization_id", "organizations", organizations, required=True
            )
            minimum = row.integer("minimum_age", low=0, high=130)
            maximum = row.integer("maximum_age", low=0, high=130)
            if minimum is not None and maximum is not None and minimum > maximum:
                row.problem("maximum_age", f"{maximum} is below the minimum age {minimum}")
            record = ServiceRecord(
                id=ident or uuid.uuid4(),
                organization_id=organization.id if organization else uuid.uuid4(),
                name=row.text("name", required=True, max_length=255),
                status=row.choice("status", SERVICE_STATUSES, required=True, default="active"),
                description=row.text("description"),
                alternate_name=row.text("alternate_name"),
                url=row.url("url"),
                email=row.email("email"),
                interpretation_services=row.text("interpretation_services"),
                application_process=row.text("application_process"),
                fees_description=row.text("fees_description"),
                wait_time=row.text("wait_time"),
                eligibility_description=row.text("eligibility_description"),
                minimum_age=minimum,
                maximum_age=maximum,
                alert=row.text("alert"),
                extra=_extra_columns(row, "services"),
            )
            kept = self.kept(row, mark, RECORD_SKIPPED, table="services")
            if kept and ident is not None and organization is not None:
                services[ident] = record
        return services

    def _service_at_locations(
        self,
        rows: list[Row],
        services: dict[uuid.UUID, ServiceRecord],
        locations: dict[uuid.UUID, LocationRecord],
    ) -> dict[uuid.UUID, tuple[ServiceRecord, ServiceAtLocationRecord]]:
        sals: dict[uuid.UUID, tuple[ServiceRecord, ServiceAtLocationRecord]] = {}
        for row in rows:
            mark = len(self.problems)
            service = self.refer(row, "service_id", "services", services, required=True)
            location = self.refer(row, "location_id", "locations", locations, required=True)
            if service is not None and location is not None:
                if location.organization_id is None:
                    location.organization_id = service.organization_id
                if location.organization_id != service.organization_id:
                    row.problem(
                        "location_id",
                        "the location belongs to another organization than the service",
                    )
            sal = ServiceAtLocationRecord(
                id=row.uuid("id") or uuid.uuid4(),
                location_id=location.id if location else uuid.uuid4(),
                description=row.text("description"),
            )
            table = "service_at_location"
            if not self.kept(row, mark, ROW_DROPPED, table=table) or not (service and location):
                continue
            service.locations.append(sal)
            sals[sal.id] = (service, sal)
        return sals

    def _phones(
        self,
        rows: list[Row],
        organizations: dict[uuid.UUID, OrganizationRecord],
        locations: dict[uuid.UUID, LocationRecord],
        services: dict[uuid.UUID, ServiceRecord],
    ) -> None:
        """A phone belongs to the first of its organization, location or service that exists
        (HSDS lets a row name several; a dangling extra one is not a problem)."""
        owners = (
            ("organization_id", "organizations", organizations),
            ("location_id", "locations", locations),
            ("service_id", "services", services),
        )
        for row in rows:
            mark = len(self.problems)
            phone = PhoneRecord(
                id=row.uuid("id") or uuid.uuid4(),
                number=row.text("number", required=True),
                extension=row.text("extension"),
                type=row.choice("type", PHONE_TYPES),
                description=row.text("description"),
            )
            named = [(c, t, k, row.uuid(c)) for c, t, k in owners if row.raw(c)]
            target = next((k[i] for _, _, k, i in named if i is not None and i in k), None)
            if target is None and named:
                column, table, known, _ = named[0]
                self.refer(row, column, table, known, required=True)
            elif not named and row.raw("service_at_location_id") and not row.raw("contact_id"):
                # Handoff keeps the phones of organizations, locations, services and contacts.
                self.warnings.append(
                    Problem(
                        row.where[0],
                        row.where[1],
                        "service_at_location_id",
                        "phone of a service at a location; not mapped, ignored",
                    )
                )
            elif not named and not row.raw("contact_id") and not row.raw("service_at_location_id"):
                row.problem("organization_id", "a phone needs an organization, location or service")
            if self.kept(row, mark, ROW_DROPPED) and target is not None:
                target.phones.append(phone)

    def _languages(
        self,
        rows: list[Row],
        locations: dict[uuid.UUID, LocationRecord],
        services: dict[uuid.UUID, ServiceRecord],
    ) -> None:
        for row in rows:
            mark = len(self.problems)
            code = row.raw("code").lower()
            target: ServiceRecord | LocationRecord | None = None
            if not code or not LANGUAGE_CODE.match(code):
                row.problem("code", f"{row.raw('code')!r} is not an ISO 639 language code")
            elif row.raw("service_id"):
                target = self.refer(row, "service_id", "services", services, required=True)
            elif row.raw("location_id"):
                target = self.refer(row, "location_id", "locations", locations, required=True)
            else:
                self.warnings.append(
                    Problem(
                        row.where[0], row.where[1], "", "language of a phone; not mapped, ignored"
                    )
                )
            if self.kept(row, mark, ROW_DROPPED) and target and code not in target.languages:
                target.languages.append(code)
                # The language objects as given: their ids (and names, notes) go back out.
                target.extra.setdefault("languages", []).append(_hsds_object(row))

    def _schedules(
        self,
        rows: list[Row],
        services: dict[uuid.UUID, ServiceRecord],
        sals: dict[uuid.UUID, tuple[ServiceRecord, ServiceAtLocationRecord]],
        locations: dict[uuid.UUID, LocationRecord],
    ) -> None:
        """Weekly schedules of a service (at a location, or everywhere) or of a location itself."""
        for row in rows:
            mark = len(self.problems)
            ident = row.uuid("id") or uuid.uuid4()
            location_id: uuid.UUID | None = None
            target: list[HoursRecord] | None = None
            owner: ServiceRecord | LocationRecord | None = None
            if row.raw("service_at_location_id"):
                found = self.refer(
                    row, "service_at_location_id", "service_at_location", sals, required=True
                )
                if found is not None:
                    owner, location_id = found[0], found[1].location_id
            elif row.raw("service_id"):
                owner = self.refer(row, "service_id", "services", services, required=True)
            elif row.raw("location_id"):
                owner = self.refer(row, "location_id", "locations", locations, required=True)
                location_id = owner.id if owner is not None else None
            else:
                row.problem(
                    "service_id", "a schedule needs a service, service_at_location or location"
                )
            target = owner.hours if owner is not None else None
            freq = row.raw("freq").upper()
            if freq and freq != "WEEKLY":
                if self.kept(row, mark, ROW_DROPPED):
                    self.warnings.append(
                        Problem(
                            row.where[0],
                            row.where[1],
                            "freq",
                            f"{freq} schedules are not mapped; ignored",
                        )
                    )
                continue
            days = [d.strip().upper() for d in row.raw("byday").split(",") if d.strip()]
            if not days or any(d not in BYDAY for d in days):
                row.problem("byday", f"{row.raw('byday')!r} is not a list of days (MO,TU,...)")
            opens, closes = row.clock("opens_at"), row.clock("closes_at")
            note = row.text("description")
            if not self.kept(row, mark, ROW_DROPPED) or target is None:
                continue
            if opens is None or closes is None or not days or any(d not in BYDAY for d in days):
                continue
            target += [
                HoursRecord(ident, location_id, BYDAY[day], opens, closes, note) for day in days
            ]
            if owner is not None:
                _part_keep(owner.extra, "schedules", row)

    def _service_children(self, services: dict[uuid.UUID, ServiceRecord]) -> None:
        def owner(row: Row) -> ServiceRecord | None:
            service: ServiceRecord | None = self.refer(
                row, "service_id", "services", services, required=True
            )
            return service

        for row in self.rows("service_areas"):
            mark = len(self.problems)
            service = owner(row)
            name = row.text("name") or row.text("extent")
            if not name:
                row.problem("name", "is required")
            area = (row.uuid("id") or uuid.uuid4(), name, row.text("description"))
            if self.kept(row, mark, ROW_DROPPED) and service:
                service.service_areas.append(area)
                _part_keep(service.extra, "service_areas", row)
        for row in self.rows("cost_options"):
            mark = len(self.problems)
            service = owner(row)
            option = CostOptionRecord(
                id=row.uuid("id") or uuid.uuid4(),
                option=row.text("option"),
                amount=row.decimal("amount", low=0, high=10**8),
                currency=(row.text("currency", max_length=3) or "USD").upper(),
                amount_description=row.text("amount_description"),
            )
            if self.kept(row, mark, ROW_DROPPED) and service:
                service.cost_options.append(option)
                _part_keep(service.extra, "cost_options", row)
        for row in self.rows("required_documents"):
            mark = len(self.problems)
            service = owner(row)
            document = row.text("document", required=True)
            uri = row.url("uri")
            if self.kept(row, mark, ROW_DROPPED) and service and document:
                service.required_documents.append((row.uuid("id") or uuid.uuid4(), document, uri))

    def _attributes(
        self,
        rows: list[Row],
        services: dict[uuid.UUID, ServiceRecord],
        terms: dict[uuid.UUID, TermRecord],
        roles: dict[uuid.UUID, tuple[str, str]],
    ) -> None:
        for row in rows:
            mark = len(self.problems)
            term = self.refer(row, "taxonomy_term_id", "taxonomy_terms", terms, required=True)
            link_id = row.uuid("link_id", required=True)
            entity = row.raw("link_entity").lower() or "service"
            service = None
            if entity != "service":
                if self.kept(row, mark, ROW_DROPPED):
                    self.warnings.append(
                        Problem(
                            row.where[0],
                            row.where[1],
                            "link_entity",
                            f"attributes of a {entity} are not mapped; ignored",
                        )
                    )
                continue
            if link_id is not None and term is not None:
                service = self.refer(row, "link_id", "services", services, required=True)
            if not self.kept(row, mark, ROW_DROPPED) or service is None or term is None:
                continue
            # The attributes as given: their ids (and values) go back out with their terms.
            service.extra.setdefault("attributes", []).append(_hsds_object(row))
            role = roles.get(term.id)
            if role is None:
                if term.id not in service.service_type_ids:
                    service.service_type_ids.append(term.id)
            elif role[0] == "category":
                if role[1] not in service.category_codes:
                    service.category_codes.append(role[1])
            elif role[0] == "fee":
                service.fee_type = role[1]
            else:
                service.referral_method = role[1]

    # --- what Handoff does not model -------------------------------------------------------------

    def _extras(
        self,
        organizations: dict[uuid.UUID, OrganizationRecord],
        services: dict[uuid.UUID, ServiceRecord],
        locations: dict[uuid.UUID, LocationRecord],
        sals: dict[uuid.UUID, tuple[ServiceRecord, ServiceAtLocationRecord]],
    ) -> None:
        """Contacts, programs, funding, identifiers, URLs and metadata, kept on the most
        specific record they belong to (service, then location, then organization); what
        belongs to a service at a location is kept on its service."""
        owners: dict[str, dict[uuid.UUID, Any]] = {
            "service_id": services,
            "service_at_location_id": {ident: pair[0] for ident, pair in sals.items()},
            "location_id": locations,
            "organization_id": organizations,
        }

        def attach(
            table: str, key: str, columns: tuple[str, ...], *, organization_key: str = ""
        ) -> None:
            for row in self.rows(table):
                mark = len(self.problems)
                record, column = None, ""
                for column in columns:
                    ident = row.uuid(column)
                    record = owners[column].get(ident) if ident else None
                    if record is not None:
                        break
                if record is None:
                    named = [c for c in columns if row.raw(c)]
                    if named:
                        self.refer(
                            row, named[0], _table_of(named[0]), owners[named[0]], required=True
                        )
                    else:
                        row.problem(columns[-1], "is required")
                if self.kept(row, mark, ROW_DROPPED) and record is not None:
                    # An organization's URLs are its ``additional_websites`` in HSDS 3.0.
                    own = organization_key if column == "organization_id" else ""
                    record.extra.setdefault(own or key, []).append(_hsds_object(row))

        attach(
            "contacts",
            "contacts",
            ("service_id", "service_at_location_id", "location_id", "organization_id"),
        )
        self._contact_phones([*organizations.values(), *services.values(), *locations.values()])
        attach("funding", "funding", ("service_id", "organization_id"))
        attach("organization_identifiers", "organization_identifiers", ("organization_id",))
        attach(
            "urls",
            "additional_urls",
            ("service_id", "organization_id"),
            organization_key="additional_websites",
        )
        programs: dict[uuid.UUID, dict[str, Any]] = {}
        for row in self.rows("programs"):
            mark = len(self.problems)
            organization = self.refer(
                row, "organization_id", "organizations", organizations, required=True
            )
            program = _hsds_object(row)
            if self.kept(row, mark, ROW_DROPPED) and organization is not None:
                organization.extra.setdefault("programs", []).append(program)
                ident = _uuid_or_none(program.get("id"))
                if ident is not None:
                    programs[ident] = program
        for service in services.values():
            program_id = _uuid_or_none(service.extra.get("program_id"))
            found = programs.get(program_id) if program_id is not None else None
            if found is not None:
                service.extra["program"] = found
        every: dict[uuid.UUID, Any] = {**organizations, **services, **locations}
        for row in self.rows("metadata"):
            mark = len(self.problems)
            ident = row.uuid("resource_id", required=True)
            record = every.get(ident) if ident else None
            if record is None and ident is not None:
                self.warnings.append(
                    Problem(
                        row.where[0],
                        row.where[1],
                        "resource_id",
                        f"metadata of {row.raw('resource_type') or 'a record'} {ident}, which is "
                        "not an organization, service or location; not kept",
                    )
                )
            if self.kept(row, mark, ROW_DROPPED) and record is not None:
                record.extra.setdefault("metadata", []).append(_hsds_object(row))

    def _contact_phones(self, records: list[Any]) -> None:
        """A contact's phones (a phone naming only its contact) go with the contact kept in its
        owner's ``extra``, as its ``phones``."""
        contacts = {
            str(contact.get("id")): contact
            for record in records
            for contact in record.extra.get("contacts", [])
        }
        specs = {spec.name: spec for spec in schema.TABLES["phones"]}
        owners = ("organization_id", "location_id", "service_id")
        for raw in self.dataset.rows("phones"):
            contact = contacts.get(str(raw.get("contact_id") or "").strip())
            if contact is None or not raw.get("number") or any(raw.get(c) for c in owners):
                continue
            phone = {
                key: _typed(specs.get(key), value)
                for key, value in raw.items()
                if not key.startswith("_") and value not in ("", None, [], {})
            }
            contact.setdefault("phones", []).append(phone)


def _table_of(column: str) -> str:
    return {
        "service_id": "services",
        "service_at_location_id": "service_at_location",
        "location_id": "locations",
    }.get(column, "organizations")


def _uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _is_number(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _typed(spec: schema.FieldSpec | None, value: Any) -> Any:
    """A CSV cell as the HSDS JSON value of its field (numbers and booleans typed)."""
    if not isinstance(value, str) or spec is None:
        return value
    try:
        if spec.type == "integer":
            return int(value)
        if spec.type == "number":
            number = Decimal(value)
            return int(number) if number == number.to_integral_value() else float(number)
    except (ValueError, InvalidOperation):
        return value
    if spec.type == "boolean":
        return value.lower() in ("true", "1", "yes")
    return value


def _hsds_object(row: Row) -> dict[str, Any]:
    """A row as its HSDS JSON object: every given cell (nested JSON kept as it was)."""
    return {
        key: value
        for key, value in row.row.items()
        if not key.startswith("_") and value not in ("", None, [], {})
    }


_SPECS = {table: {spec.name: spec for spec in schema.TABLES[table]} for table in MAPPED_COLUMNS}


def _extra_columns(row: Row, table: str) -> dict[str, Any]:
    """The HSDS 3.0 properties of an organization, service or location Handoff has no field
    for, as HSDS JSON (empty cells left out)."""
    specs = _SPECS[table]
    mapped = MAPPED_COLUMNS[table]
    extra: dict[str, Any] = {}
    for key, value in row.row.items():
        if key in mapped or key.startswith("_") or value in ("", None, [], {}):
            continue
        if key in specs:
            extra[key] = _typed(specs[key], value)
        elif key in NESTED_EXTRA and isinstance(value, list | dict):
            extra[key] = value
    return extra


_PART_SPECS = {
    table: {spec.name: spec for spec in schema.TABLES[table]} for table in UNMODELLED_PARTS
}


def _part_keep(
    extra: dict[str, Any], table: str, row: Row, *, more: dict[str, Any] | None = None
) -> None:
    """Keep the properties of a part (a schedule, an address...) Handoff has no field for, with
    the part's id, in its owner's ``extra`` (nothing when it has none); ``more``: others the
    caller decided to keep."""
    specs = _PART_SPECS[table]
    values = {
        column: _typed(specs[column], row.row[column])
        for column in UNMODELLED_PARTS[table]
        if row.row.get(column) not in ("", None)
    }
    values.update(more or {})
    if values and row.raw("id"):
        extra.setdefault(table, []).append({"id": row.raw("id"), **values})


def _term_extra(row: Row) -> dict[str, Any]:
    """A term's HSDS properties Handoff has no field for (its language, its URI)."""
    return {key: row.text(key) for key in ("language", "term_uri") if row.text(key)}


def _term_role(
    taxonomy_id: uuid.UUID | None, taxonomy: str, uri: str, code: str
) -> tuple[str, str] | None:
    """Which Handoff field a term feeds ('category', 'fee', 'referral'), with its code."""
    lowered = taxonomy.lower()
    if taxonomy_id == SDOH_TAXONOMY_ID or uri == SDOHCC_SYSTEM or lowered == "sdohcc":
        return ("category", code if code in SDOH_CODES else "")
    if taxonomy_id == FEE_TAXONOMY_ID or lowered == "handoff fee type":
        return ("fee", code if code in FEE_CODES else "")
    if taxonomy_id == REFERRAL_TAXONOMY_ID or lowered == "handoff referral method":
        return ("referral", code if code in REFERRAL_CODES else "")
    return None


def _parents_first(terms: list[TermRecord]) -> list[TermRecord]:
    by_id = {t.id: t for t in terms}
    ordered: list[TermRecord] = []
    placed: set[uuid.UUID] = set()

    def place(term: TermRecord, depth: int = 0) -> None:
        if term.id in placed or depth > 50:
            return
        if term.parent_id in by_id:
            place(by_id[term.parent_id], depth + 1)
        placed.add(term.id)
        ordered.append(term)

    for term in terms:
        place(term)
    return ordered
