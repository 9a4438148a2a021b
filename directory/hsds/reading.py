"""Reading HSDS 3.0 exchange files into one tabular form, whatever their shape.

A Tabular Data Package (a folder or zip of CSV files with ``datapackage.json``) is read as is; a
JSON file of nested service objects is flattened into the same tables, so that one validator and
one importer serve both.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from . import schema

MAX_FILE_BYTES = 50 * 1024 * 1024
MB = 1024 * 1024
CHUNK_BYTES = 64 * 1024

# The HSDS tables this importer reads, by file name; every other file is reported and skipped.
TABLES = tuple(schema.TABLES)
# Files the spec defines that this importer does not map (reported, not treated as errors).
KNOWN_UNMAPPED = (
    "contacts",
    "programs",
    "funding",
    "organization_identifiers",
    "metadata",
    "meta_table_descriptions",
    "urls",
)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located so an admin can fix it."""

    file: str
    row: int | None  # 1-based data row (CSV: the header is row 0), None for the whole file
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file} row {self.row}"
        return f"{where}, {self.field or '-'}: {self.message}"


@dataclass
class Dataset:
    """HSDS rows by table; each row remembers where it came from."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables.get(table, [])

    def add(self, table: str, row: dict[str, Any], *, source: str, number: int | None) -> None:
        row["_source"] = source
        row["_row"] = number
        self.tables.setdefault(table, []).append(row)


class ReadError(Exception):
    """The input cannot be read at all (missing, too large, not a package, not JSON)."""


def read(path: str | Path) -> Dataset:
    """Read a folder, a zip or a JSON file into a Dataset (errors inside it are collected)."""
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file or folder")
    if path.is_dir():
        return _read_package(_DirectoryFiles(path))
    _check_size(path.name, path.stat().st_size)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return _read_package(_ZipFiles(archive, name=path.name))
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise ReadError(f"{path.name}: the zip is damaged or cannot be read ({exc})") from exc
    if path.suffix.lower() in {".json", ".ndjson"}:
        return read_json_bytes(path.read_bytes(), name=path.name)
    raise ReadError(f"{path.name}: expected a folder or zip with datapackage.json, or a .json file")


def _check_size(name: str, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise ReadError(
            f"{name}: {size / 1024 / 1024:.1f} MB is larger than the "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB an import may be; split the file."
        )


class _DirectoryFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_file())

    def open(self, name: str) -> bytes:
        target = self.root / name
        _check_size(name, target.stat().st_size)
        return target.read_bytes()


def zip_limits() -> tuple[int, int]:
    """How many members a zip may hold and how many bytes it may expand to (settings)."""
    return settings.HSDS_IMPORT_MAX_MEMBERS, settings.HSDS_IMPORT_MAX_UNCOMPRESSED_BYTES


def zip_check(archive: zipfile.ZipFile, *, name: str) -> None:
    """Refuse a zip whose central directory lists too many members or too many bytes, before
    anything is decompressed (reading checks again, since declared sizes can lie)."""
    max_members, max_bytes = zip_limits()
    members = archive.infolist()
    if len(members) > max_members:
        raise ReadError(
            f"{name}: the zip holds {len(members)} files; an import may hold at most {max_members}."
        )
    declared = sum(member.file_size for member in members)
    if declared > max_bytes:
        raise ReadError(
            f"{name}: the zip expands to {declared / MB:.1f} MB; an import may expand to at "
            f"most {max_bytes / MB:.1f} MB. Split the file."
        )


class _ZipFiles:
    def __init__(self, archive: zipfile.ZipFile, *, name: str = "upload.zip") -> None:
        zip_check(archive, name=name)
        self.archive = archive
        self.zip_name = name
        # Bytes still allowed out of the whole archive, counted as they are decompressed.
        self.budget = zip_limits()[1]
        # A package may sit at the top of the zip or inside one folder.
        names = [n for n in archive.namelist() if not n.endswith("/")]
        prefixes = {
            n.rsplit("/", 1)[0] + "/" if "/" in n else ""
            for n in names
            if n.endswith("datapackage.json")
        }
        self.prefix = min(prefixes, key=len) if prefixes else ""
        self._names = {
            n[len(self.prefix) :]: n
            for n in names
            if n.startswith(self.prefix) and "/" not in n[len(self.prefix) :]
        }

    def names(self) -> list[str]:
        return sorted(self._names)

    def open(self, name: str) -> bytes:
        info = self.archive.getinfo(self._names[name])
        _check_size(name, info.file_size)
        # Never trust the declared size: stop as soon as more comes out than is allowed.
        allowed = min(MAX_FILE_BYTES, self.budget)
        chunks: list[bytes] = []
        size = 0
        with self.archive.open(info) as member:
            while chunk := member.read(CHUNK_BYTES):
                size += len(chunk)
                if size > allowed:
                    raise ReadError(
                        f"{self.zip_name}: {name} expands to more than "
                        f"{allowed / MB:.1f} MB; an import may expand to at most "
                        f"{zip_limits()[1] / MB:.1f} MB in all. Split the file."
                    )
                chunks.append(chunk)
        self.budget -= size
        return b"".join(chunks)


def _read_package(files: _DirectoryFiles | _ZipFiles) -> Dataset:
    dataset = Dataset()
    names = files.names()
    if "datapackage.json" not in names:
        raise ReadError("datapackage.json is missing: this is not a Tabular Data Package")
    try:
        json.loads(files.open("datapackage.json"))
    except json.JSONDecodeError as exc:
        raise ReadError(f"datapackage.json is not valid JSON: {exc}") from exc
    for name in names:
        if name == "datapackage.json" or not name.endswith(".csv"):
            continue
        table = name[:-4]
        if table not in TABLES:
            dataset.warnings.append(
                Problem(
                    name,
                    None,
                    "",
                    (
                        "not mapped by this importer; ignored"
                        if table in KNOWN_UNMAPPED
                        else "unknown file; ignored"
                    ),
                )
            )
            continue
        _read_csv(dataset, table, name, files.open(name))
    if not dataset.rows("organizations") and not dataset.rows("services"):
        dataset.errors.append(
            Problem("organizations.csv", None, "", "no organizations or services in the package")
        )
    return dataset


def _read_csv(dataset: Dataset, table: str, name: str, content: bytes) -> None:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        dataset.errors.append(
            Problem(name, None, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})")
        )
        return
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if not header:
            return
        header = [column.strip() for column in header]
        if len(set(header)) != len(header):
            dataset.errors.append(Problem(name, 0, "", "a column name appears twice"))
            return
        known = {*schema.table_columns(table), *schema.HANDOFF_EXTENSIONS.get(table, ())}
        for column in header:
            if column not in known:
                dataset.warnings.append(Problem(name, 0, column, "not an HSDS 3.0 column; ignored"))
        for number, values in enumerate(reader, start=1):
            if not any(value.strip() for value in values):
                continue
            if len(values) != len(header):
                dataset.errors.append(
                    Problem(
                        name,
                        number,
                        "",
                        f"has {len(values)} cells but the header has {len(header)} columns",
                    )
                )
                continue
            dataset.add(
                table,
                {k: v.strip() for k, v in zip(header, values, strict=True)},
                source=name,
                number=number,
            )
    except csv.Error as exc:
        dataset.errors.append(Problem(name, reader.line_num, "", f"malformed CSV: {exc}"))


def read_json_bytes(content: bytes, *, name: str = "input.json") -> Dataset:
    """Flatten nested HSDS service (or organization) objects into the tabular form."""
    _check_size(name, len(content))
    try:
        text = content.decode("utf-8-sig")
        if name.endswith(".ndjson"):
            data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(f"{name} is not valid JSON: {exc}") from exc
    if isinstance(data, dict):
        data = data.get("contents", data.get("services", [data]))
    if not isinstance(data, list):
        raise ReadError(f"{name}: expected a list of service objects")
    return read_json_objects(data, name=name)


def read_json_objects(data: list[Any], *, name: str) -> Dataset:
    """Flatten nested HSDS service (or organization) objects already parsed from JSON (an API
    page's ``contents``, say) into the tabular form."""
    dataset = Dataset()
    flattener = _Flattener(dataset, name)
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            dataset.errors.append(Problem(name, index, "", "expected an object"))
            continue
        flattener.service(item, index)
    return dataset


class _Flattener:
    """Turns nested objects into rows with foreign keys, keeping each shared object once."""

    def __init__(self, dataset: Dataset, name: str) -> None:
        self.dataset = dataset
        self.name = name
        self.seen: set[tuple[str, str]] = set()

    def _once(self, table: str, obj: dict[str, Any], number: int, **keys: Any) -> bool:
        ident = str(obj.get("id", ""))
        if ident and (table, ident) in self.seen:
            return False
        if ident:
            self.seen.add((table, ident))
        row = {k: v for k, v in obj.items() if not isinstance(v, list | dict)}
        row.update({k: v for k, v in keys.items() if v is not None})
        self.dataset.add(table, row, source=self.name, number=number)
        return True

    def _children(self, obj: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        value = obj.get(key) or []
        if isinstance(value, dict):
            value = [value]
        for child in value if isinstance(value, list) else []:
            if isinstance(child, dict):
                yield child

    def service(self, service: dict[str, Any], n: int) -> None:
        organization = service.get("organization")
        org_id = service.get("organization_id")
        if isinstance(organization, dict):
            org_id = organization.get("id", org_id)
            self.organization(organization, n)
        self._once("services", service, n, organization_id=org_id)
        sid = service.get("id")
        self._owned(service, n, service_id=sid)
        for sal in self._children(service, "service_at_locations"):
            location = sal.get("location")
            location_id = sal.get("location_id")
            if isinstance(location, dict):
                location_id = location.get("id", location_id)
                self.location(location, n, organization_id=org_id)
            self._once("service_at_location", sal, n, service_id=sid, location_id=location_id)
            for schedule in self._children(sal, "schedules"):
                self._once("schedules", schedule, n, service_at_location_id=sal.get("id"))
        for area in self._children(service, "service_areas"):
            self._once("service_areas", area, n, service_id=sid)
        for option in self._children(service, "cost_options"):
            self._once("cost_options", option, n, service_id=sid)
        for document in self._children(service, "required_documents"):
            self._once("required_documents", document, n, service_id=sid)
        for schedule in self._children(service, "schedules"):
            self._once("schedules", schedule, n, service_id=sid)
        for attribute in self._children(service, "attributes"):
            self._attribute(attribute, n, link_id=sid, link_entity="service")

    def organization(self, organization: dict[str, Any], n: int) -> None:
        if not self._once("organizations", organization, n):
            return
        self._owned(organization, n, organization_id=organization.get("id"))
        for location in self._children(organization, "locations"):
            self.location(location, n, organization_id=organization.get("id"))

    def location(self, location: dict[str, Any], n: int, *, organization_id: Any) -> None:
        if not self._once("locations", location, n, organization_id=organization_id):
            return
        lid = location.get("id")
        for address in self._children(location, "addresses"):
            self._once("addresses", address, n, location_id=lid)
        for item in self._children(location, "accessibility"):
            self._once("accessibility", item, n, location_id=lid)
        for schedule in self._children(location, "schedules"):
            self._once("schedules", schedule, n, location_id=lid)
        self._owned(location, n, location_id=lid)

    def _owned(self, obj: dict[str, Any], n: int, **owner: Any) -> None:
        for phone in self._children(obj, "phones"):
            self._once("phones", phone, n, **owner)
        for language in self._children(obj, "languages"):
            self._once("languages", language, n, **owner)

    def _attribute(self, attribute: dict[str, Any], n: int, **link: Any) -> None:
        term = attribute.get("taxonomy_term")
        term_id = attribute.get("taxonomy_term_id")
        if isinstance(term, dict):
            term_id = term.get("id", term_id)
            taxonomy = term.get("taxonomy_detail") or term.get("taxonomy_object")
            if isinstance(taxonomy, dict):
                self._once("taxonomies", taxonomy, n)
            self._once("taxonomy_terms", term, n)
        self._once("attributes", attribute, n, taxonomy_term_id=term_id, **link)
