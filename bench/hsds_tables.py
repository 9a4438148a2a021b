"""The HSDS tables the synthetic package writes (column -> Table Schema type), their CSV writers
and the package's ``datapackage.json`` descriptor."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path
from typing import Any

# --- the tables: column -> Table Schema type ----------------------------------------------------

COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "organizations": (
        ("id", "string"),
        ("name", "string"),
        ("alternate_name", "string"),
        ("description", "string"),
        ("email", "string"),
        ("website", "string"),
        ("tax_status", "string"),
        ("tax_id", "string"),
        ("year_incorporated", "integer"),
        ("legal_status", "string"),
    ),
    "locations": (
        ("id", "string"),
        ("organization_id", "string"),
        ("location_type", "string"),
        ("name", "string"),
        ("alternate_name", "string"),
        ("description", "string"),
        ("transportation", "string"),
        ("latitude", "number"),
        ("longitude", "number"),
    ),
    "addresses": (
        ("id", "string"),
        ("location_id", "string"),
        ("attention", "string"),
        ("address_1", "string"),
        ("address_2", "string"),
        ("city", "string"),
        ("region", "string"),
        ("state_province", "string"),
        ("postal_code", "string"),
        ("country", "string"),
        ("address_type", "string"),
    ),
    "accessibility": (
        ("id", "string"),
        ("location_id", "string"),
        ("description", "string"),
        ("details", "string"),
        ("url", "string"),
    ),
    "phones": (
        ("id", "string"),
        ("organization_id", "string"),
        ("location_id", "string"),
        ("service_id", "string"),
        ("number", "string"),
        ("extension", "string"),
        ("type", "string"),
        ("description", "string"),
    ),
    "services": (
        ("id", "string"),
        ("organization_id", "string"),
        ("name", "string"),
        ("alternate_name", "string"),
        ("description", "string"),
        ("url", "string"),
        ("email", "string"),
        ("status", "string"),
        ("interpretation_services", "string"),
        ("application_process", "string"),
        ("fees_description", "string"),
        ("wait_time", "string"),
        ("eligibility_description", "string"),
        ("minimum_age", "integer"),
        ("maximum_age", "integer"),
        ("alert", "string"),
    ),
    "service_at_location": (
        ("id", "string"),
        ("service_id", "string"),
        ("location_id", "string"),
        ("description", "string"),
    ),
    "schedules": (
        ("id", "string"),
        ("service_id", "string"),
        ("location_id", "string"),
        ("service_at_location_id", "string"),
        ("freq", "string"),
        ("interval", "integer"),
        ("byday", "string"),
        ("opens_at", "time"),
        ("closes_at", "time"),
        ("description", "string"),
    ),
    "languages": (
        ("id", "string"),
        ("service_id", "string"),
        ("location_id", "string"),
        ("phone_id", "string"),
        ("name", "string"),
        ("code", "string"),
        ("note", "string"),
    ),
    "service_areas": (
        ("id", "string"),
        ("service_id", "string"),
        ("name", "string"),
        ("description", "string"),
        ("extent_type", "string"),
    ),
    "required_documents": (
        ("id", "string"),
        ("service_id", "string"),
        ("document", "string"),
        ("uri", "string"),
    ),
    "cost_options": (
        ("id", "string"),
        ("service_id", "string"),
        ("option", "string"),
        ("currency", "string"),
        ("amount", "number"),
        ("amount_description", "string"),
    ),
    "taxonomies": (
        ("id", "string"),
        ("name", "string"),
        ("description", "string"),
        ("uri", "string"),
        ("version", "string"),
    ),
    "taxonomy_terms": (
        ("id", "string"),
        ("code", "string"),
        ("name", "string"),
        ("description", "string"),
        ("parent_id", "string"),
        ("taxonomy", "string"),
        ("taxonomy_id", "string"),
        ("language", "string"),
    ),
    "attributes": (
        ("id", "string"),
        ("link_id", "string"),
        ("link_type", "string"),
        ("link_entity", "string"),
        ("taxonomy_term_id", "string"),
        ("value", "string"),
        ("label", "string"),
    ),
}


class Tables:
    """One csv.writer per table; rows go straight to disk."""

    def __init__(self, folder: Path, stack: contextlib.ExitStack) -> None:
        self.writers: dict[str, Any] = {}
        self.columns: dict[str, tuple[str, ...]] = {}
        self.counts: dict[str, int] = {}
        for table, columns in COLUMNS.items():
            handle = stack.enter_context(
                (folder / f"{table}.csv").open("w", newline="", encoding="utf-8")
            )
            writer = csv.writer(handle)
            names = tuple(name for name, _ in columns)
            writer.writerow(names)
            self.writers[table] = writer
            self.columns[table] = names
            self.counts[table] = 0

    def add(self, table: str, **row: Any) -> None:
        unknown = set(row) - set(self.columns[table])
        if unknown:
            raise KeyError(f"{table}: unknown columns {sorted(unknown)}")
        self.writers[table].writerow(
            ["" if row.get(name) is None else row[name] for name in self.columns[table]]
        )
        self.counts[table] += 1


def descriptor(seed: int, services: int) -> dict[str, Any]:
    return {
        "profile": "tabular-data-package",
        "name": f"handoff-bench-{services}-seed{seed}",
        "title": f"Synthetic HSDS 3.0 directory ({services} services, seed {seed})",
        "description": (
            "Generated by bench/hsds_package.py for benchmarking the Handoff HSDS importer. "
            "Names, addresses and phone numbers are fictional; ZIP codes are real."
        ),
        "keywords": ["HSDS", "Open Referral", "HSDS 3.0"],
        "licenses": [{"name": "CC0-1.0"}],
        "resources": [
            {
                "name": table,
                "path": f"{table}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": {
                    "fields": [
                        {"name": name, "type": kind, **({"format": "uuid"} if name == "id" else {})}
                        for name, kind in columns
                    ],
                    "primaryKey": "id",
                },
            }
            for table, columns in COLUMNS.items()
        ],
    }
