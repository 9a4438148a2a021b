"""HSDS rows -> typed, cross-checked records (or every problem, located by file, row and field)."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict

from cms.categories import SDOH_CATEGORIES, SDOHCC_SYSTEM

from .cells import Row
from .reading import Dataset, Problem
from .records import (
    FEE_CODES,
    FEE_TAXONOMY_ID,
    REFERRAL_CODES,
    REFERRAL_TAXONOMY_ID,
    SDOH_TAXONOMY_ID,
    CostOptionRecord,
    Directory,
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


def build(dataset: Dataset) -> Directory:
    """Check every row and cross-reference; return the records or raise InvalidImport."""
    problems = list(dataset.errors)
    warnings = list(dataset.warnings)
    ids: dict[str, dict[uuid.UUID, Row]] = defaultdict(dict)

    def rows(table: str) -> list[Row]:
        result = []
        for raw in dataset.rows(table):
            row = Row(raw, problems)
            ident = row.uuid("id", required=True)
            if ident is not None:
                if ident in ids[table]:
                    first = ids[table][ident].where
                    row.problem("id", f"{ident} appears twice (first at row {first[1]})")
                    continue
                ids[table][ident] = row
            result.append(row)
        return result

    organizations: dict[uuid.UUID, OrganizationRecord] = {}
    for row in rows("organizations"):
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
        )
        organizations[record.id] = record

    terms, roles = _terms(rows("taxonomies"), rows("taxonomy_terms"), problems)
    locations = _locations(
        rows("locations"), rows("addresses"), rows("accessibility"), organizations, problems
    )
    services = _services(rows("services"), organizations, problems)
    sal_rows = rows("service_at_location")
    sals: dict[uuid.UUID, tuple[ServiceRecord, ServiceAtLocationRecord]] = {}
    for row in sal_rows:
        service_id = row.uuid("service_id", required=True)
        location_id = row.uuid("location_id", required=True)
        if service_id is None or location_id is None:
            continue
        if service_id not in services:
            row.problem("service_id", f"no service with id {service_id}")
            continue
        if location_id not in locations:
            row.problem("location_id", f"no location with id {location_id}")
            continue
        service, location = services[service_id], locations[location_id]
        if location.organization_id is None:
            location.organization_id = service.organization_id
        if location.organization_id != service.organization_id:
            row.problem(
                "location_id", "the location belongs to another organization than the service"
            )
            continue
        sal = ServiceAtLocationRecord(
            id=row.uuid("id") or uuid.uuid4(),
            location_id=location_id,
            description=row.text("description"),
        )
        service.locations.append(sal)
        sals[sal.id] = (service, sal)

    _phones(rows("phones"), organizations, locations, services, problems)
    _languages(rows("languages"), locations, services, problems, warnings)
    _schedules(rows("schedules"), services, sals, locations, problems, warnings)
    _service_children(
        rows("service_areas"), rows("cost_options"), rows("required_documents"), services, problems
    )
    _attributes(rows("attributes"), services, terms, roles, problems, warnings)

    for location in locations.values():
        if location.organization_id is None:
            problems.append(
                Problem(
                    location.where[0],
                    location.where[1],
                    "organization_id",
                    "the location belongs to no organization and no service",
                )
            )
        elif location.organization_id in organizations:
            organizations[location.organization_id].locations.append(location)
    for service in services.values():
        organizations[service.organization_id].services.append(service)
    if problems:
        raise InvalidImport(problems, warnings)
    service_types = [t for t in terms.values() if roles.get(t.id) is None]
    return Directory(list(organizations.values()), _parents_first(service_types), warnings)


def _terms(
    taxonomy_rows: list[Row], term_rows: list[Row], problems: list[Problem]
) -> tuple[dict[uuid.UUID, TermRecord], dict[uuid.UUID, tuple[str, str]]]:
    """Taxonomy terms; ``roles`` marks the terms of Handoff's own taxonomies (category, fee…)."""
    taxonomy_names: dict[uuid.UUID, tuple[str, str]] = {}
    for row in taxonomy_rows:
        ident = row.uuid("id")
        if ident:
            taxonomy_names[ident] = (row.text("name", required=True), row.text("uri"))
    terms: dict[uuid.UUID, TermRecord] = {}
    roles: dict[uuid.UUID, tuple[str, str]] = {}
    for row in term_rows:
        ident = row.uuid("id")
        taxonomy_id = row.uuid("taxonomy_id")
        taxonomy, uri = (
            taxonomy_names.get(taxonomy_id, (row.text("taxonomy"), ""))
            if taxonomy_id
            else (row.text("taxonomy"), "")
        )
        if taxonomy_id and taxonomy_id not in taxonomy_names:
            row.problem("taxonomy_id", f"no taxonomy with id {taxonomy_id}")
        code = row.text("code")
        name = row.text("name", required=True)
        if ident is None:
            continue
        role = _term_role(taxonomy_id, taxonomy, uri, code)
        if role:
            if role[1] == "":
                row.problem("code", f"{code!r} is not a code of the {role[0]} taxonomy")
                continue
            roles[ident] = role
        terms[ident] = TermRecord(
            id=ident,
            code=code or str(ident)[:8],
            name=name,
            description=row.text("description"),
            parent_id=row.uuid("parent_id"),
            taxonomy=taxonomy or "Service types",
        )
    for term in terms.values():
        if term.parent_id and term.parent_id not in terms:
            problems.append(
                Problem(
                    "taxonomy_terms.csv",
                    None,
                    "parent_id",
                    f"term {term.id} names a missing parent {term.parent_id}",
                )
            )
    return terms, roles


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


def _locations(
    location_rows: list[Row],
    address_rows: list[Row],
    accessibility_rows: list[Row],
    organizations: dict[uuid.UUID, OrganizationRecord],
    problems: list[Problem],
) -> dict[uuid.UUID, LocationRecord]:
    locations: dict[uuid.UUID, LocationRecord] = {}
    for row in location_rows:
        ident = row.uuid("id")
        org_id = row.uuid("organization_id")
        if org_id and org_id not in organizations:
            row.problem("organization_id", f"no organization with id {org_id}")
        lat = row.decimal("latitude", low=-90, high=90)
        lng = row.decimal("longitude", low=-180, high=180)
        if (lat is None) != (lng is None) and row.raw("latitude") and row.raw("longitude"):
            lat = lng = None  # one of them was already reported as invalid
        elif (lat is None) != (lng is None):
            row.problem(
                "latitude" if lat is None else "longitude",
                "give both latitude and longitude, or neither",
            )
        elif lat == 0 and lng == 0:
            row.problem("latitude", "0,0 is not a place; leave both empty to geocode")
            lat = lng = None
        if ident is None:
            continue
        locations[ident] = LocationRecord(
            id=ident,
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
            where=row.where,
        )
    for row in address_rows:
        location_id = row.uuid("location_id", required=True)
        if location_id is None:
            continue
        if location_id not in locations:
            row.problem("location_id", f"no location with id {location_id}")
            continue
        address_type = row.raw("address_type").lower() or "physical"
        location = locations[location_id]
        if location.address_id is not None and address_type != "physical":
            continue  # the physical address wins; a postal one adds nothing we map
        location.address_id = row.uuid("id")
        location.address_1 = row.text("address_1", required=True)
        location.address_2 = row.text("address_2")
        location.city = row.text("city", required=True)
        location.region = row.text("region")
        location.state_province = row.text("state_province", required=True)
        location.postal_code = row.text("postal_code", required=True)
        location.country = (row.text("country", max_length=2) or "US").upper()
    for row in accessibility_rows:
        location_id = row.uuid("location_id", required=True)
        if location_id in locations:
            note = row.text("description") or row.text("details")
            current = locations[location_id].accessibility
            locations[location_id].accessibility = f"{current}\n{note}".strip() if note else current
        elif location_id is not None:
            row.problem("location_id", f"no location with id {location_id}")
    return locations


def _services(
    service_rows: list[Row],
    organizations: dict[uuid.UUID, OrganizationRecord],
    problems: list[Problem],
) -> dict[uuid.UUID, ServiceRecord]:
    services: dict[uuid.UUID, ServiceRecord] = {}
    for row in service_rows:
        ident = row.uuid("id")
        org_id = row.uuid("organization_id", required=True)
        if org_id is not None and org_id not in organizations:
            row.problem("organization_id", f"no organization with id {org_id}")
            org_id = None
        minimum = row.integer("minimum_age", low=0, high=130)
        maximum = row.integer("maximum_age", low=0, high=130)
        if minimum is not None and maximum is not None and minimum > maximum:
            row.problem("maximum_age", f"{maximum} is below the minimum age {minimum}")
        record = ServiceRecord(
            id=ident or uuid.uuid4(),
            organization_id=org_id or uuid.uuid4(),
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
        )
        if ident is not None and org_id is not None:
            services[ident] = record
    return services


def _phones(
    phone_rows: list[Row],
    organizations: dict[uuid.UUID, OrganizationRecord],
    locations: dict[uuid.UUID, LocationRecord],
    services: dict[uuid.UUID, ServiceRecord],
    problems: list[Problem],
) -> None:
    for row in phone_rows:
        phone = PhoneRecord(
            id=row.uuid("id") or uuid.uuid4(),
            number=row.text("number", required=True),
            extension=row.text("extension"),
            type=row.choice("type", PHONE_TYPES),
            description=row.text("description"),
        )
        owners = [
            (column, row.uuid(column))
            for column in ("organization_id", "location_id", "service_id")
        ]
        owner = next(((c, v) for c, v in owners if v is not None), None)
        if owner is None:
            if not any(row.raw(c) for c in ("contact_id", "service_at_location_id")):
                row.problem("organization_id", "a phone needs an organization, location or service")
            continue
        column, ident = owner
        target: OrganizationRecord | LocationRecord | ServiceRecord | None
        if column == "organization_id":
            target = organizations.get(ident)
        elif column == "location_id":
            target = locations.get(ident)
        else:
            target = services.get(ident)
        if target is None:
            row.problem(column, f"no {column[:-3]} with id {ident}")
            continue
        target.phones.append(phone)


def _languages(
    language_rows: list[Row],
    locations: dict[uuid.UUID, LocationRecord],
    services: dict[uuid.UUID, ServiceRecord],
    problems: list[Problem],
    warnings: list[Problem],
) -> None:
    for row in language_rows:
        code = row.raw("code").lower()
        if not code or not LANGUAGE_CODE.match(code):
            row.problem("code", f"{row.raw('code')!r} is not an ISO 639 language code")
            continue
        service_id, location_id = row.uuid("service_id"), row.uuid("location_id")
        target: ServiceRecord | LocationRecord | None = None
        if service_id is not None:
            target = services.get(service_id)
            if target is None:
                row.problem("service_id", f"no service with id {service_id}")
        elif location_id is not None:
            target = locations.get(location_id)
            if target is None:
                row.problem("location_id", f"no location with id {location_id}")
        else:
            warnings.append(
                Problem(row.where[0], row.where[1], "", "language of a phone; not mapped, ignored")
            )
        if target is not None and code not in target.languages:
            target.languages.append(code)


def _schedules(
    schedule_rows: list[Row],
    services: dict[uuid.UUID, ServiceRecord],
    sals: dict[uuid.UUID, tuple[ServiceRecord, ServiceAtLocationRecord]],
    locations: dict[uuid.UUID, LocationRecord],
    problems: list[Problem],
    warnings: list[Problem],
) -> None:
    """Weekly schedules of a service (at a location, or everywhere) or of a location itself."""
    for row in schedule_rows:
        ident = row.uuid("id") or uuid.uuid4()
        service_id, sal_id = row.uuid("service_id"), row.uuid("service_at_location_id")
        own_location_id = row.uuid("location_id")
        location_id: uuid.UUID | None = None
        target: list[HoursRecord]
        if sal_id is not None:
            if sal_id not in sals:
                row.problem("service_at_location_id", f"no service_at_location with id {sal_id}")
                continue
            service, sal = sals[sal_id]
            location_id, target = sal.location_id, service.hours
        elif service_id is not None:
            if service_id not in services:
                row.problem("service_id", f"no service with id {service_id}")
                continue
            target = services[service_id].hours
        elif own_location_id is not None:
            if own_location_id not in locations:
                row.problem("location_id", f"no location with id {own_location_id}")
                continue
            location_id, target = own_location_id, locations[own_location_id].hours
        else:
            row.problem("service_id", "a schedule needs a service, service_at_location or location")
            continue
        freq = row.raw("freq").upper()
        if freq and freq != "WEEKLY":
            warnings.append(
                Problem(
                    row.where[0], row.where[1], "freq", f"{freq} schedules are not mapped; ignored"
                )
            )
            continue
        days = [d.strip().upper() for d in row.raw("byday").split(",") if d.strip()]
        bad = [d for d in days if d not in BYDAY]
        if not days or bad:
            row.problem("byday", f"{row.raw('byday')!r} is not a list of days (MO,TU,...)")
            continue
        opens, closes = row.clock("opens_at"), row.clock("closes_at")
        if opens is None or closes is None:
            continue
        note = row.text("description")
        target += [
            HoursRecord(
                id=ident,
                location_id=location_id,
                weekday=BYDAY[day],
                opens_at=opens,
                closes_at=closes,
                description=note,
            )
            for day in days
        ]


def _service_children(
    area_rows: list[Row],
    cost_rows: list[Row],
    document_rows: list[Row],
    services: dict[uuid.UUID, ServiceRecord],
    problems: list[Problem],
) -> None:
    def owner(row: Row) -> ServiceRecord | None:
        service_id = row.uuid("service_id", required=True)
        if service_id is not None and service_id not in services:
            row.problem("service_id", f"no service with id {service_id}")
            return None
        return services.get(service_id) if service_id else None

    for row in area_rows:
        service = owner(row)
        name = row.text("name") or row.text("extent")
        if not name:
            row.problem("name", "is required")
        if service and name:
            service.service_areas.append(
                (row.uuid("id") or uuid.uuid4(), name, row.text("description"))
            )
    for row in cost_rows:
        service = owner(row)
        option = CostOptionRecord(
            id=row.uuid("id") or uuid.uuid4(),
            option=row.text("option"),
            amount=row.decimal("amount", low=0, high=10**8),
            currency=(row.text("currency", max_length=3) or "USD").upper(),
            amount_description=row.text("amount_description"),
        )
        if service:
            service.cost_options.append(option)
    for row in document_rows:
        service = owner(row)
        document = row.text("document", required=True)
        if service and document:
            service.required_documents.append(
                (row.uuid("id") or uuid.uuid4(), document, row.url("uri"))
            )


def _attributes(
    attribute_rows: list[Row],
    services: dict[uuid.UUID, ServiceRecord],
    terms: dict[uuid.UUID, TermRecord],
    roles: dict[uuid.UUID, tuple[str, str]],
    problems: list[Problem],
    warnings: list[Problem],
) -> None:
    for row in attribute_rows:
        term_id = row.uuid("taxonomy_term_id", required=True)
        link_id = row.uuid("link_id", required=True)
        entity = row.raw("link_entity").lower() or "service"
        if term_id is None or link_id is None:
            continue
        if term_id not in terms:
            row.problem("taxonomy_term_id", f"no taxonomy term with id {term_id}")
            continue
        if entity != "service":
            warnings.append(
                Problem(
                    row.where[0],
                    row.where[1],
                    "link_entity",
                    f"attributes of a {entity} are not mapped; ignored",
                )
            )
            continue
        service = services.get(link_id)
        if service is None:
            row.problem("link_id", f"no service with id {link_id}")
            continue
        role = roles.get(term_id)
        if role is None:
            if term_id not in service.service_type_ids:
                service.service_type_ids.append(term_id)
        elif role[0] == "category":
            if role[1] not in service.category_codes:
                service.category_codes.append(role[1])
        elif role[0] == "fee":
            service.fee_type = role[1]
        else:
            service.referral_method = role[1]
