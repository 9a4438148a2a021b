"""Writing a network's directory as HSDS 3.0: nested service JSON or a Tabular Data Package.

Both come from the one serializer the HSDS API uses (``directory.hsds.documents``): the JSON
export is the API's fully nested services; the package is the same objects flattened into one
table per HSDS object (by the reader's own flattener, so that what is written reads back), plus
every published organization (with or without services) and every taxonomy and term.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from network.models import Network

from . import documents, schema, selectors
from .reading import Dataset, _Flattener
from .serializing import HsdsObject

Rows = dict[str, list[dict[str, Any]]]
BATCH = 500


class DirectoryTables(dict[str, list[dict[str, Any]]]):
    """The export's tables, keeping the nested service objects they were flattened from."""

    services: list[HsdsObject]


def directory_services(network: Network) -> list[HsdsObject]:
    """Every published service of ``network``, fully nested, in tree order (as the API's
    ``/services?full=true`` pages them)."""
    services = list(selectors.published_services(network=network).only("pk", "path"))
    result: list[HsdsObject] = []
    for start in range(0, len(services), BATCH):
        result += documents.service_objects(
            services[start : start + BATCH], network=network, full=True
        )
    return result


def directory_tables(network: Network) -> DirectoryTables:
    """Every live listing of ``network`` as HSDS tabular rows (values as Python scalars)."""
    services = directory_services(network)
    dataset = Dataset()
    flattener = _Flattener(dataset, "export")
    agencies = list(selectors.published_agencies(network=network))
    for start in range(0, len(agencies), BATCH):
        organizations = documents.organization_objects(
            agencies[start : start + BATCH], network=network, nested=True, with_services=False
        )
        for number, organization in enumerate(organizations, start=start + 1):
            flattener.organization(organization, number)
    # The whole vocabulary first: a term's row keeps its parent (the copy nested in a service
    # names the parent only when that service carries it too), and the first row of an id wins.
    vocabulary = [
        ("taxonomies", documents.taxonomies(network=network)),
        ("taxonomy_terms", documents.taxonomy_terms(network=network)),
    ]
    for table, objects in vocabulary:
        for number, obj in enumerate(objects, start=1):
            flattener._once(table, obj, number)
    for number, service in enumerate(services, start=1):
        flattener.service(service, number)
    tables = DirectoryTables(
        {
            table: [{k: v for k, v in row.items() if k not in ("_source", "_row")} for row in rows]
            for table, rows in dataset.tables.items()
        }
    )
    tables.services = services
    return tables


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


def nested_services(tables: DirectoryTables) -> list[HsdsObject]:
    """The nested service objects the tables were made from."""
    return tables.services


def write_json(tables: DirectoryTables, path: Path) -> Path:
    """Write the nested service objects as one JSON array."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(nested_services(tables), indent=1, ensure_ascii=False, default=str),
        encoding="utf-8",
    )
    return path
