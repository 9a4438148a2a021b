"""Writing a network's directory as HSDS 3.0: a Tabular Data Package or nested service JSON."""

from __future__ import annotations

import csv
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.db.models import Prefetch

from network.models import Network

from ..models import (
    AgencyPage,
    DirectoryIndexPage,
    Location,
    ServiceHours,
    ServicePage,
    TaxonomyTerm,
)
from . import schema
from .records import (
    NAMESPACE,
    handoff_taxonomies,
    well_known_term_id,
)

Rows = dict[str, list[dict[str, Any]]]
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def _derived_id(*parts: object) -> str:
    """Ids for rows Handoff keeps as plain values (languages, attributes): stable across exports."""
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


def _clock(value: Any) -> str:
    return value.strftime("%H:%M")


def directory_tables(network: Network) -> Rows:
    """Every live listing of ``network`` as HSDS tabular rows (values as Python scalars)."""
    tables: Rows = defaultdict(list)
    taxonomies, terms = handoff_taxonomies()
    tables["taxonomies"] += taxonomies
    tables["taxonomy_terms"] += terms
    index = DirectoryIndexPage.objects.child_of(network.root_page).first()
    if index is None:
        return dict(tables)
    service_type_taxonomies: dict[str, str] = {}
    for term in (
        TaxonomyTerm.objects.filter(network=network).select_related("parent").order_by("pk")
    ):
        taxonomy_id = service_type_taxonomies.setdefault(
            term.taxonomy, _derived_id("taxonomy", network.slug, term.taxonomy)
        )
        tables["taxonomy_terms"].append(
            {
                "id": str(term.hsds_id),
                "code": term.code,
                "name": term.name,
                "description": term.description or term.name,
                "parent_id": str(term.parent.hsds_id) if term.parent else "",
                "taxonomy": term.taxonomy,
                "taxonomy_id": taxonomy_id,
            }
        )
    for name, taxonomy_id in service_type_taxonomies.items():
        tables["taxonomies"].append(
            {"id": taxonomy_id, "name": name, "description": f"{network.name}: {name}", "uri": ""}
        )

    agencies = (
        AgencyPage.objects.child_of(index)
        .live()
        .order_by("path")
        .prefetch_related("phones__location", "locations", "location_hours__location")
    )
    for agency in agencies:
        _agency_rows(tables, agency)
    services = (
        ServicePage.objects.descendant_of(index)
        .live()
        .order_by("path")
        .select_related("capacity")
        .prefetch_related(
            "categories",
            "service_types",
            "service_locations__location",
            "cost_options",
            "required_documents",
            "service_areas",
            "phones",
            Prefetch("hours", queryset=ServiceHours.objects.select_related("location")),
        )
    )
    parents = {a.path: a for a in agencies}
    for service in services:
        agency = parents.get(service.path[: -AgencyPage.steplen])
        if agency is not None:
            _service_rows(tables, service, agency)
    return dict(tables)


def _agency_rows(tables: Rows, agency: AgencyPage) -> None:
    org_id = str(agency.hsds_id)
    tables["organizations"].append(
        {
            "id": org_id,
            "name": agency.title,
            "alternate_name": agency.alternate_name,
            "description": agency.description,
            "email": agency.email,
            "website": agency.website,
            "tax_status": agency.tax_status,
            "tax_id": agency.tax_id,
            "year_incorporated": agency.year_incorporated,
            "legal_status": agency.legal_status,
        }
    )
    for location in agency.locations.all():
        _location_rows(tables, location, org_id)
    _schedule_rows(
        tables,
        agency.location_hours.all(),
        owner=lambda hours: {"location_id": str(hours.location.hsds_id)},
    )
    for phone in agency.phones.all():
        owner = (
            {"location_id": str(phone.location.hsds_id)}
            if phone.location
            else {"organization_id": org_id}
        )
        tables["phones"].append(
            {
                "id": str(phone.hsds_id),
                **owner,
                "number": phone.number,
                "extension": phone.extension,
                "type": phone.type,
                "description": phone.description,
            }
        )


def _location_rows(tables: Rows, location: Location, org_id: str) -> None:
    """A location's rows; a confidential address (a shelter) is left out with its map point,
    and the location says so in Handoff's ``address_confidential`` extension column."""
    location_id = str(location.hsds_id)
    hidden = location.address_confidential
    tables["locations"].append(
        {
            "id": location_id,
            "organization_id": org_id,
            "location_type": location.location_type,
            "name": location.name,
            "alternate_name": location.alternate_name,
            "description": location.description,
            "transportation": location.transportation,
            "latitude": None if hidden else location.latitude,
            "longitude": None if hidden else location.longitude,
            **({"address_confidential": True} if hidden else {}),
        }
    )
    if location.address_1 and not hidden:
        tables["addresses"].append(
            {
                "id": str(location.address_hsds_id),
                "location_id": location_id,
                "address_1": location.address_1,
                "address_2": location.address_2,
                "city": location.city,
                "region": location.region,
                "state_province": location.state_province,
                "postal_code": location.postal_code,
                "country": location.country,
                "address_type": "physical",
            }
        )
    if location.accessibility:
        tables["accessibility"].append(
            {
                "id": _derived_id("accessibility", location_id),
                "location_id": location_id,
                "description": location.accessibility,
            }
        )
    for code in location.languages:
        tables["languages"].append(
            {
                "id": _derived_id("language", location_id, code),
                "location_id": location_id,
                "code": code,
            }
        )


def _service_rows(tables: Rows, service: ServicePage, agency: AgencyPage) -> None:
    service_id = str(service.hsds_id)
    tables["services"].append(
        {
            "id": service_id,
            "organization_id": str(agency.hsds_id),
            "name": service.title,
            "alternate_name": service.alternate_name,
            "description": service.description,
            "url": service.url,
            "email": service.email,
            "status": service.status,
            "interpretation_services": service.interpretation_services,
            "application_process": service.application_process,
            "fees_description": service.fees_description,
            "wait_time": service.wait_time,
            "eligibility_description": service.eligibility_description,
            "minimum_age": service.minimum_age,
            "maximum_age": service.maximum_age,
            "alert": service.alert,
        }
    )
    sal_by_location: dict[int, str] = {}
    for sal in service.service_locations.all():
        sal_by_location[sal.location_id] = str(sal.hsds_id)
        tables["service_at_location"].append(
            {
                "id": str(sal.hsds_id),
                "service_id": service_id,
                "location_id": str(sal.location.hsds_id),
                "description": sal.description,
            }
        )
    _schedule_rows(
        tables,
        service.hours.all(),
        owner=lambda hours: (
            {"service_at_location_id": sal_by_location[hours.location_id]}
            if hours.location_id in sal_by_location
            else {"service_id": service_id}
        ),
    )
    for code in service.languages:
        tables["languages"].append(
            {
                "id": _derived_id("language", service_id, code),
                "service_id": service_id,
                "code": code,
            }
        )
    for area in service.service_areas.all():
        tables["service_areas"].append(
            {
                "id": str(area.hsds_id),
                "service_id": service_id,
                "name": area.name,
                "description": area.description,
            }
        )
    for option in service.cost_options.all():
        tables["cost_options"].append(
            {
                "id": str(option.hsds_id),
                "service_id": service_id,
                "option": option.option,
                "amount": option.amount,
                "currency": option.currency,
                "amount_description": option.amount_description,
            }
        )
    for document in service.required_documents.all():
        tables["required_documents"].append(
            {
                "id": str(document.hsds_id),
                "service_id": service_id,
                "document": document.document,
                "uri": document.uri,
            }
        )
    for phone in service.phones.all():
        tables["phones"].append(
            {
                "id": str(phone.hsds_id),
                "service_id": service_id,
                "number": phone.number,
                "extension": phone.extension,
                "type": phone.type,
                "description": phone.description,
            }
        )
    term_ids = [str(well_known_term_id("sdohcc", c.code)) for c in service.categories.all()]
    term_ids += [
        str(well_known_term_id("fee", service.fee_type)),
        str(well_known_term_id("referral", service.referral_method)),
    ]
    term_ids += [str(t.hsds_id) for t in service.service_types.all()]
    for term_id in term_ids:
        tables["attributes"].append(
            {
                "id": _derived_id("attribute", service_id, term_id),
                "link_id": service_id,
                "link_entity": "service",
                "link_type": "",
                "taxonomy_term_id": term_id,
            }
        )


def _schedule_rows(
    tables: Rows, hours: Iterable[Any], *, owner: Callable[[Any], dict[str, str]]
) -> None:
    """Weekly hours rows as HSDS schedules: the days of one schedule, split on import, rejoined."""
    grouped: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for row in hours:
        key = (
            row.hsds_id,
            tuple(sorted(owner(row).items())),
            row.opens_at,
            row.closes_at,
            row.description,
        )
        grouped[key].append(row.weekday)
    for (hsds_id, who, opens, closes, note), days in grouped.items():
        tables["schedules"].append(
            {
                "id": str(hsds_id),
                **dict(who),
                "freq": "WEEKLY",
                "byday": ",".join(WEEKDAY_CODES[d] for d in sorted(days)),
                "opens_at": _clock(opens),
                "closes_at": _clock(closes),
                "description": note,
            }
        )


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def write_package(tables: Rows, folder: Path, *, name: str) -> list[Path]:
    """Write a Tabular Data Package (one CSV per table and ``datapackage.json``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written, resources = [], []
    for table in sorted(tables):
        rows = tables[table]
        columns = _columns(table, rows)
        types = {spec.name: spec.type for spec in schema.TABLES.get(table, ())}
        path = folder / f"{table}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
        written.append(path)
        resources.append(
            {
                "name": table,
                "path": path.name,
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [{"name": c, "type": types.get(c, "string")} for c in columns],
                    "primaryKey": "id",
                },
            }
        )
    package = folder / "datapackage.json"
    package.write_text(
        json.dumps(
            {"name": name, "profile": "tabular-data-package", "resources": resources}, indent=2
        ),
        encoding="utf-8",
    )
    return [*written, package]


def _columns(table: str, rows: Iterable[dict[str, Any]]) -> list[str]:
    """Every HSDS column of the table in the spec's order, then any extension columns."""
    columns: dict[str, None] = dict.fromkeys(
        schema.table_columns(table) if table in schema.TABLES else ["id"]
    )
    for row in rows:
        columns.update(dict.fromkeys(k for k in row if not k.startswith("_")))
    return list(columns)


def nested_services(tables: Rows) -> list[dict[str, Any]]:
    """The tabular rows as HSDS 3.0 nested ("compiled") service objects."""

    def clean(row: dict[str, Any]) -> dict[str, Any]:
        return {
            k: (float(v) if k in {"latitude", "longitude", "amount"} and v is not None else v)
            for k, v in row.items()
            if v not in ("", None) or k == "id"
        }

    by = defaultdict(lambda: defaultdict(list))  # type: ignore[var-annotated]
    for table, key in (
        ("phones", "organization_id"),
        ("phones", "location_id"),
        ("phones", "service_id"),
        ("languages", "service_id"),
        ("languages", "location_id"),
        ("addresses", "location_id"),
        ("accessibility", "location_id"),
        ("schedules", "service_id"),
        ("schedules", "service_at_location_id"),
        ("service_areas", "service_id"),
        ("cost_options", "service_id"),
        ("required_documents", "service_id"),
        ("attributes", "link_id"),
        ("service_at_location", "service_id"),
        ("locations", "organization_id"),
    ):
        for row in tables.get(table, []):
            if row.get(key):
                by[(table, key)][row[key]].append(clean(row))
    locations = {row["id"]: row for row in tables.get("locations", [])}
    organizations = {row["id"]: row for row in tables.get("organizations", [])}
    taxonomies = {row["id"]: clean(row) for row in tables.get("taxonomies", [])}
    terms = {row["id"]: clean(row) for row in tables.get("taxonomy_terms", [])}

    def location_object(location_id: str) -> dict[str, Any]:
        return {
            **clean(locations[location_id]),
            "addresses": by[("addresses", "location_id")][location_id],
            "phones": by[("phones", "location_id")][location_id],
            "languages": by[("languages", "location_id")][location_id],
            "accessibility": by[("accessibility", "location_id")][location_id],
        }

    result = []
    for service in tables.get("services", []):
        sid = service["id"]
        org = organizations[service["organization_id"]]
        attributes = []
        for attribute in by[("attributes", "link_id")][sid]:
            term = dict(terms[attribute["taxonomy_term_id"]])
            if term.get("taxonomy_id") in taxonomies:
                term["taxonomy_detail"] = taxonomies[term["taxonomy_id"]]
            attributes.append({**attribute, "taxonomy_term": term})
        result.append(
            {
                **clean(service),
                "organization": {
                    **clean(org),
                    "phones": by[("phones", "organization_id")][org["id"]],
                    "locations": [
                        location_object(loc["id"])
                        for loc in by[("locations", "organization_id")][org["id"]]
                    ],
                },
                "service_at_locations": [
                    {
                        **sal,
                        "location": location_object(sal["location_id"]),
                        "schedules": by[("schedules", "service_at_location_id")][sal["id"]],
                    }
                    for sal in by[("service_at_location", "service_id")][sid]
                ],
                "phones": by[("phones", "service_id")][sid],
                "schedules": by[("schedules", "service_id")][sid],
                "languages": by[("languages", "service_id")][sid],
                "service_areas": by[("service_areas", "service_id")][sid],
                "cost_options": by[("cost_options", "service_id")][sid],
                "required_documents": by[("required_documents", "service_id")][sid],
                "attributes": attributes,
            }
        )
    return result


def write_json(tables: Rows, path: Path) -> Path:
    """Write the nested service objects as one JSON array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nested_services(tables), indent=1, default=str), encoding="utf-8")
    return path
