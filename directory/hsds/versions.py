"""Packages as they are published, read as HSDS 3.0 tables.

Most 211s publish HSDS 1.x or 2.0 (``services_at_location.csv``, ``physical_addresses.csv``,
``regular_schedules.csv``, ``services_taxonomy.csv``, numeric ids ...). This module brings their
tables to the 3.0 names and columns, and gives every id that is not a UUID a stable UUID, so the
importer only ever sees 3.0. Facts about the older versions come from the 1.x and 2.0
``datapackage.json`` of ``openreferral/specification``, restated here in Handoff's own words.

Everything here works on plain rows (``dict[str, Any]`` by table) and reports through a
``note`` callback ``(file, row, field, message)``, so that ``reading`` can call it for any shape.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from .schema import PASSTHROUGH, TABLES

Rows = dict[str, list[dict[str, Any]]]
Note = Callable[[str, int | None, str, str], None]

# Handoff's namespace for deterministic ids (the same as ``records.NAMESPACE``).
NAMESPACE = uuid.UUID("8f6b7f0e-5d1c-4c47-9a4e-6b1d2f3c9a10")
SOURCE_IDS = uuid.uuid5(NAMESPACE, "hsds-source-ids")

# The original id of a row whose id was not a UUID; the importer keeps it in ``hsds_extra``.
ORIGINAL_ID = "x_original_id"

# Older (and pre-release 3.0 singular) file names -> the 3.0 table they hold.
TABLE_ALIASES: dict[str, str] = {
    "organization": "organizations",
    "service": "services",
    "location": "locations",
    "services_at_location": "service_at_location",
    "services_at_locations": "service_at_location",
    "service_at_locations": "service_at_location",
    "address": "addresses",
    "physical_addresses": "addresses",
    "postal_addresses": "addresses",
    "phone": "phones",
    "schedule": "schedules",
    "regular_schedules": "schedules",
    "language": "languages",
    "taxonomy_term": "taxonomy_terms",
    "attribute": "attributes",
    "service_attributes": "attributes",
    "other_attributes": "attributes",
    "services_taxonomy": "attributes",
    "service_taxonomy": "attributes",
    "service_area": "service_areas",
    "cost_option": "cost_options",
    "required_document": "required_documents",
    "accessibility_for_disabilities": "accessibility",
    "contact": "contacts",
    "program": "programs",
    "organization_identifier": "organization_identifiers",
    "meta_table_description": "meta_table_descriptions",
    "url": "urls",
}
# 1.x ``taxonomy.csv`` holds terms (``parent_id``, ``vocabulary``); 3.0 ``taxonomies.csv`` and a
# pre-release ``taxonomy.csv`` hold taxonomies. Told apart by their columns.
TAXONOMY_TERM_COLUMNS = {"parent_id", "parent_name", "vocabulary", "term"}
# Files of older versions with no 3.0 table: reported once, not imported.
RETIRED = {
    "holiday_schedules": "holiday closures are not in HSDS 3.0 and not imported",
    "payments_accepted": "payment methods are not in HSDS 3.0 and not imported",
    "eligibility": "",  # merged into services.eligibility_description
}

# Old column -> 3.0 column, per 3.0 table; applied only when the 3.0 column is absent.
COLUMN_ALIASES: dict[str, dict[str, str]] = {
    "organizations": {"url": "website"},
    "services": {"fees": "fees_description"},
    "taxonomy_terms": {"term": "name", "vocabulary": "taxonomy"},
    "service_areas": {"service_area": "name"},
    "accessibility": {"accessibility": "description"},
}

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = {
    **{
        name: code
        for code, name in zip(
            WEEKDAYS,
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
            strict=True,
        )
    },
    **{
        name[:3]: code
        for code, name in zip(
            WEEKDAYS, ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), strict=True
        )
    },
    **{code.lower(): code for code in WEEKDAYS},
    # ISO 8601 numbering (1 = Monday), and 0 = Sunday as some exports count.
    **{str(n): code for n, code in enumerate(WEEKDAYS, start=1)},
    "0": "SU",
}

# Which table a foreign-key column names.
FOREIGN_KEYS: dict[str, str] = {
    "organization_id": "organizations",
    "parent_organization_id": "organizations",
    "service_id": "services",
    "location_id": "locations",
    "service_at_location_id": "service_at_location",
    "contact_id": "contacts",
    "phone_id": "phones",
    "program_id": "programs",
    "taxonomy_term_id": "taxonomy_terms",
    "taxonomy_id": "taxonomies",
}
# Which table an attribute's link_entity (or a metadata row's resource_type) names.
ENTITY_TABLES: dict[str, str] = {
    "organization": "organizations",
    "service": "services",
    "location": "locations",
    "service_at_location": "service_at_location",
    "address": "addresses",
    "physical_address": "addresses",
    "postal_address": "addresses",
    "phone": "phones",
    "schedule": "schedules",
    "language": "languages",
    "contact": "contacts",
    "program": "programs",
    "funding": "funding",
    "service_area": "service_areas",
    "required_document": "required_documents",
    "cost_option": "cost_options",
    "accessibility": "accessibility",
    "accessibility_for_disabilities": "accessibility",
    "taxonomy": "taxonomies",
    "taxonomy_term": "taxonomy_terms",
    "attribute": "attributes",
    "organization_identifier": "organization_identifiers",
}

# The entity name of a table (metadata's resource_type, an attribute's link_entity).
ENTITY_SINGULAR: dict[str, str] = {
    table: entity
    for entity, table in ENTITY_TABLES.items()
    if entity not in ("physical_address", "postal_address", "accessibility_for_disabilities")
}

_REFERENCES = frozenset({"id", "link_id", "resource_id", "parent_id", *FOREIGN_KEYS})

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


def table_for_file(stem: str, header: list[str]) -> str:
    """The 3.0 table a CSV file holds, from its name (without ``.csv``) and header; "" if none."""
    stem = stem.lower()
    if stem == "taxonomy":
        return "taxonomy_terms" if TAXONOMY_TERM_COLUMNS & set(header) else "taxonomies"
    if stem in TABLES or stem in PASSTHROUGH:
        return stem
    return TABLE_ALIASES.get(stem, "")


def row_to_3(stem: str, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """One row of file ``stem`` with its 3.0 columns (the old ones renamed or folded in)."""
    for old, new in COLUMN_ALIASES.get(table, {}).items():
        if old in row and not _filled(row.get(new)):
            row[new] = row.pop(old)
    stem = stem.lower()
    if table == "addresses":
        extra = [row.pop(k, "") for k in ("address_3", "address_4")]
        if any(_filled(v) for v in extra):
            row["address_2"] = ", ".join(
                str(v).strip() for v in (row.get("address_2"), *extra) if _filled(v)
            )
        if not _filled(row.get("address_type")):
            row["address_type"] = "postal" if stem == "postal_addresses" else "physical"
    elif table == "attributes" and stem != "attributes" and stem != "attribute":
        if "service_id" in row:  # services_taxonomy (1.x), service_attributes (2.0)
            row["link_id"] = row.pop("service_id")
            row.setdefault("link_entity", "service")
        if stem in ("services_taxonomy", "service_taxonomy") and "taxonomy_id" in row:
            row["taxonomy_term_id"] = row.pop("taxonomy_id")
            if "taxonomy_detail" in row:
                row["value"] = row.pop("taxonomy_detail")
        if "link_type" in row and not _filled(row.get("link_entity")):
            row["link_entity"] = row.pop("link_type")  # 2.0 other_attributes
    elif table == "taxonomy_terms":
        row.pop("parent_name", None)  # the parent's own row names it
        if not _filled(row.get("description")) and _filled(row.get("name")):
            row["description"] = row["name"]  # required in 3.0; 1.x terms have none
    elif table == "languages" and "language" in row and not _filled(row.get("code")):
        value = str(row.pop("language") or "").strip()
        if _LANGUAGE_CODE.match(value) and len(value.split("-")[0].split("_")[0]) <= 3:
            row["code"] = value.replace("_", "-").lower()
        else:
            row["name"] = value
    elif table == "locations" and not _filled(row.get("location_type")):
        row["location_type"] = "physical"  # required in 3.0; older locations are places
    elif table == "schedules" and "weekday" in row and not _filled(row.get("byday")):
        weekday = str(row.pop("weekday") or "").strip()
        row["byday"] = _DAY_NAMES.get(weekday.lower(), weekday)
        row.setdefault("freq", "WEEKLY")
        if not _filled(row.get("freq")):
            row["freq"] = "WEEKLY"
    return row


def eligibility_merge(rows: list[dict[str, Any]], services: list[dict[str, Any]]) -> int:
    """Fold 1.x/2.0 ``eligibility.csv`` rows into their services' ``eligibility_description``
    (where the service has none); returns how many services received one."""
    by_service: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        text = str(row.get("eligibility") or "").strip()
        if text and text not in by_service[str(row.get("service_id") or "").strip()]:
            by_service[str(row.get("service_id") or "").strip()].append(text)
    merged = 0
    for service in services:
        texts = by_service.get(str(service.get("id") or "").strip())
        if texts and not _filled(service.get("eligibility_description")):
            service["eligibility_description"] = "; ".join(texts)
            merged += 1
    return merged


def ids_to_uuids(tables: Rows, *, source: str) -> Counter[str]:
    """Give every id and reference that is not a UUID a stable UUID, in place.

    The UUID is ``uuid5`` of the source key, the table and the original id, so re-importing the
    same package gives the same UUIDs, and an id "1" of organizations and an id "1" of services
    differ. A row whose own id changed keeps the original in ``x_original_id``. Returns, per
    table, how many rows had their own id mapped.
    """
    mapped: Counter[str] = Counter()
    for table, rows in tables.items():
        for row in rows:
            # Only id and reference columns can need it: look at those alone (imports are large).
            for column in _REFERENCES.intersection(row):
                value = row.get(column)
                if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
                    continue
                text = str(value).strip()
                if not text or _UUID.match(text):
                    continue
                target = _target(table, column, row)
                if not target:
                    continue
                row[column] = str(stable_id(source, target, text))
                if column == "id":
                    row[ORIGINAL_ID] = text
                    mapped[table] += 1
    return mapped


def stable_id(source: str, table: str, original: str) -> uuid.UUID:
    """The UUID an id that is not one becomes (the same for the same source, table and id)."""
    return uuid.uuid5(SOURCE_IDS, f"{source}\x1f{table}\x1f{original}")


def _target(table: str, column: str, row: dict[str, Any]) -> str:
    if column == "id":
        return table
    if column == "parent_id" and table == "taxonomy_terms":
        return "taxonomy_terms"
    if column == "link_id":
        return ENTITY_TABLES.get(str(row.get("link_entity") or "service").strip().lower(), "")
    if column == "resource_id":
        return ENTITY_TABLES.get(str(row.get("resource_type") or "").strip().lower(), "")
    return FOREIGN_KEYS.get(column, "")


def _filled(value: Any) -> bool:
    return value is not None and str(value).strip() != ""
