"""Reading HSDS exchange files into one tabular form (HSDS 3.0 tables), whatever their shape.

A Tabular Data Package (a folder or zip of CSV files, with or without ``datapackage.json``) is read
with its files found by name beside or below ``datapackage.json``; HSDS 1.x and 2.0 files and
columns are brought to 3.0 (``versions``). A JSON file of nested objects (services, organizations
with their services, services at locations, a list of them or an API page envelope) is flattened
into the same tables. Ids that are not UUIDs get stable UUIDs; web addresses without a scheme get
``https://``. One validator and one importer then serve every shape.

Rows are dicts of HSDS column -> value, plus ``_source`` (file), ``_row`` (CSV data row from 1, or
the index of the top-level JSON object), ``_path`` (the JSON path, JSON only) and Handoff's own
``x_`` keys the importer keeps in the object's ``hsds_extra``: ``x_original_id`` (the id as
published, when it was not a UUID) and ``x_full_name`` (a name longer than a page title holds).
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from wagtail.models import Page

from . import schema, versions

MAX_FILE_BYTES = 50 * 1024 * 1024
MB = 1024 * 1024
CHUNK_BYTES = 64 * 1024

# The HSDS 3.0 tables this importer maps, and those it passes through for ``hsds_extra``.
TABLES = tuple(schema.TABLES)
PASSTHROUGH = tuple(schema.PASSTHROUGH)
# The template datapackage.json of the spec carries this name: it tells one source from no other.
TEMPLATE_PACKAGE_NAMES = {"human_services_data", ""}
# Wagtail's page title holds this many characters; a longer HSDS name is kept whole elsewhere.
TITLE_MAX = Page._meta.get_field("title").max_length or 255
_SCHEMELESS_URL = re.compile(r"^(www\.)?[\w-]+(\.[\w-]+)+(:\d+)?([/?#]\S*)?$", re.IGNORECASE)
_URL_COLUMNS = {
    table: tuple(spec.name for spec in specs if spec.format == "uri")
    for table, specs in {**schema.TABLES, **schema.PASSTHROUGH}.items()
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located so an admin can fix it."""

    file: str
    row: int | None  # 1-based data row (CSV: the header is row 0), None for the whole file
    field: str
    message: str
    path: str = ""  # JSON files: where in the file, e.g. "$[0].service_at_locations[1].location"

    def __str__(self) -> str:
        if self.path:
            where = f"{self.file} {self.path}"
        else:
            where = self.file if self.row is None else f"{self.file} row {self.row}"
        return f"{where}, {self.field or '-'}: {self.message}"


@dataclass(frozen=True)
class ProblemGroup:
    """Problems of one kind in one file and field: the first, how many, and on which rows."""

    first: Problem
    count: int
    rows: tuple[int, ...]  # the first few rows it happened on

    def __str__(self) -> str:
        if self.count == 1:
            return str(self.first)
        shown = ", ".join(str(n) for n in self.rows)
        more = ", ..." if self.count > len(self.rows) else ""
        return (
            f"{self.first.file}, {self.first.field or '-'}: {self.first.message} "
            f"({self.count} times; rows {shown}{more})"
        )


_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|[0-9a-fA-F-]{36}|\d+(\.\d+)?")


def problems_grouped(problems: Iterable[Problem], *, examples: int = 5) -> list[ProblemGroup]:
    """The problems with each kind counted once per file and field, in order of first sight.

    Two problems are of one kind when their messages differ only in the values they quote
    (ids, numbers, quoted cells): 20,000 rows without a status are one group of 20,000.
    """
    groups: dict[tuple[str, str, str], list[Any]] = {}
    for problem in problems:
        key = (problem.file, problem.field, _VARYING.sub("#", problem.message))
        group = groups.get(key)
        if group is None:
            groups[key] = [problem, 1, [problem.row] if problem.row is not None else []]
            continue
        group[1] += 1
        if problem.row is not None and len(group[2]) < examples:
            group[2].append(problem.row)
    return [ProblemGroup(first, count, tuple(rows)) for first, count, rows in groups.values()]


@dataclass
class Dataset:
    """HSDS rows by table; each row remembers where it came from."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables.get(table, [])

    def add(
        self, table: str, row: dict[str, Any], *, source: str, number: int | None, path: str = ""
    ) -> None:
        row["_source"] = source
        row["_row"] = number
        if path:
            row["_path"] = path
        self.tables.setdefault(table, []).append(row)

    def note(self, file: str, row: int | None, column: str, message: str) -> None:
        self.warnings.append(Problem(file, row, column, message))


class ReadError(Exception):
    """The input cannot be read at all (missing, too large, not a package, not JSON)."""


def read(path: str | Path, *, source: str | None = None) -> Dataset:
    """Read a folder, a zip or a JSON file into a Dataset (errors inside it are collected).

    ``source`` keys the UUIDs given to ids that are not UUIDs: the same package read under the
    same key gives the same UUIDs. Two sources whose ids overlap (both have an organization "1")
    are kept apart by giving each its own key (a feed's URL, ``hsds_import --source``). Without
    one, a package's ``datapackage.json`` name is used (unless it is the spec's template name),
    else none.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file or folder")
    if path.is_dir():
        return _read_package(_DirectoryFiles(path), name=path.name, source=source)
    _check_size(path.name, path.stat().st_size)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                return _read_package(
                    _ZipFiles(archive, name=path.name), name=path.name, source=source
                )
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise ReadError(f"{path.name}: the zip is damaged or cannot be read ({exc})") from exc
    if path.suffix.lower() in {".json", ".ndjson"}:
        return read_json_bytes(path.read_bytes(), name=path.name, source=source)
    if path.suffix.lower() == ".csv":
        raise ReadError(
            f"{path.name}: a single CSV file is not a package; import its folder or a zip of it"
        )
    raise ReadError(f"{path.name}: expected a folder or zip of HSDS CSV files, or a .json file")


def _check_size(name: str, size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise ReadError(
            f"{name}: {size / 1024 / 1024:.1f} MB is larger than the "
            f"{MAX_FILE_BYTES // 1024 // 1024} MB an import may be; split the file."
        )


def _hidden(name: str) -> bool:
    """Files an archiver or a desktop adds (``__MACOSX/``, ``.DS_Store``), not the package's."""
    return any(part.startswith((".", "__MACOSX")) for part in PurePosixPath(name).parts)


class _DirectoryFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self) -> list[str]:
        """Every file beside or below the root, as a relative POSIX path (hidden ones left out)."""
        limit = settings.HSDS_IMPORT_MAX_MEMBERS
        names: list[str] = []
        for path in sorted(self.root.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(self.root).as_posix()
            if _hidden(name):
                continue
            names.append(name)
            if len(names) > limit:
                raise ReadError(
                    f"{self.root.name}: the folder holds more than {limit} files; "
                    f"an import may hold at most {limit}."
                )
        return names

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
        self._names = sorted(
            n for n in archive.namelist() if not n.endswith("/") and not _hidden(n)
        )

    def names(self) -> list[str]:
        return self._names

    def open(self, name: str) -> bytes:
        info = self.archive.getinfo(name)
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


def _read_package(files: _DirectoryFiles | _ZipFiles, *, name: str, source: str | None) -> Dataset:
    """Read the CSV files of a package: the ``datapackage.json`` closest to the top says where
    the package starts (its ``resources`` name files whose names are not tables); CSV files are
    found beside or below it by their names, wherever its paths point; without one, the CSV
    files closest to the top are read by their names."""
    dataset = Dataset()
    names = files.names()
    descriptors = [n for n in names if PurePosixPath(n).name == "datapackage.json"]
    descriptor = min(descriptors, key=lambda n: (n.count("/"), n)) if descriptors else None
    root = str(PurePosixPath(descriptor).parent) if descriptor else ""
    root = "" if root == "." else root
    resources: dict[str, str] = {}  # file name -> resource name, from datapackage.json
    package_name = ""
    if descriptor is not None:
        try:
            package = json.loads(files.open(descriptor))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # e.g. the spec's examples/csv, whose datapackage.json is a symbolic link elsewhere
            package = None
            dataset.note(
                descriptor,
                None,
                "",
                f"not valid JSON ({exc}); the CSV files were recognised by their names",
            )
        if not isinstance(package, dict):
            package = {}
        package_name = str(package.get("name") or "").strip()
        for resource in package.get("resources") or []:
            if isinstance(resource, dict) and isinstance(resource.get("path"), str):
                stem = str(resource.get("name") or "").strip().lower()
                resources[PurePosixPath(resource["path"]).name.lower()] = stem
    inside = [
        n for n in names if n.lower().endswith(".csv") and (not root or n.startswith(root + "/"))
    ]
    if descriptor is None:
        if not inside:
            raise ReadError(
                f"{name}: no HSDS files found (no datapackage.json and no CSV file such as "
                "organizations.csv or services.csv)"
            )
        dataset.note(
            name, None, "", "no datapackage.json: the CSV files were recognised by their names"
        )
    chosen: dict[str, str] = {}  # file stem -> the file read for it (closest to the top)
    for path in sorted(inside, key=lambda n: (n.count("/"), n)):
        file_name = PurePosixPath(path).name.lower()
        stem = file_name[:-4]
        if file_name in resources and resources[file_name] and not _known_stem(stem):
            stem = resources[file_name]
        shown = path[len(root) + 1 :] if root else path
        if stem in chosen:
            dataset.note(shown, None, "", f"{chosen[stem]} was read for this table; ignored")
            continue
        chosen[stem] = shown
        _read_csv(dataset, stem, shown, files.open(path))
    _eligibility(dataset)
    if not dataset.rows("organizations") and not dataset.rows("services"):
        dataset.errors.append(
            Problem(name, None, "", "no organizations or services in the package")
        )
    if source is None:
        source = "" if package_name.lower() in TEMPLATE_PACKAGE_NAMES else package_name
    _finish(dataset, source=source)
    return dataset


def _known_stem(stem: str) -> bool:
    return (
        stem in TABLES
        or stem in PASSTHROUGH
        or stem in versions.TABLE_ALIASES
        or (stem in versions.RETIRED or stem == "taxonomy")
    )


def _read_csv(dataset: Dataset, stem: str, name: str, content: bytes) -> None:
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
        table = versions.table_for_file(stem, header)
        if stem in versions.RETIRED:
            table = stem
            if versions.RETIRED[stem]:
                dataset.note(name, None, "", versions.RETIRED[stem])
                return
        elif not table:
            dataset.note(name, None, "", "unknown file; ignored")
            return
        if len(set(header)) != len(header):
            dataset.errors.append(Problem(name, 0, "", "a column name appears twice"))
            return
        # An older file (or one with older columns) is brought to 3.0 row by row.
        dummy = versions.row_to_3(stem, table, dict.fromkeys(header, "x"))
        legacy = stem != table or set(dummy) != set(header)
        if table in schema.TABLES or table in schema.PASSTHROUGH:
            specs = schema.TABLES.get(table) or schema.PASSTHROUGH[table]
            known = {s.name for s in specs} | set(schema.HANDOFF_EXTENSIONS.get(table, ()))
            for column in header:
                if column not in known and (not legacy or column in dummy):
                    dataset.note(name, 0, column, "not an HSDS 3.0 column; ignored")
        weekday_numbers = False
        short = 0
        for number, values in enumerate(reader, start=1):
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(header):
                dataset.errors.append(
                    Problem(
                        name,
                        number,
                        "",
                        f"has {len(values)} cells but the header has {len(header)} columns",
                    )
                )
                continue
            if len(values) < len(header):  # trailing empty cells left out, as many exports do
                short += 1
                values = [*values, *[""] * (len(header) - len(values))]
            row = {k: v.strip() for k, v in zip(header, values, strict=True)}
            if legacy:
                weekday_numbers |= row.get("weekday", "").isdigit()
                row = versions.row_to_3(stem, table, row)
            dataset.add(table, row, source=name, number=number)
        if short:
            dataset.note(
                name,
                None,
                "",
                f"{short} row(s) have fewer cells than the header; the missing cells were read "
                "as empty",
            )
        if weekday_numbers:
            dataset.note(
                name, None, "weekday", "weekday numbers were read as ISO 8601 days (1 = Monday)"
            )
    except csv.Error as exc:
        dataset.errors.append(Problem(name, reader.line_num, "", f"malformed CSV: {exc}"))


def _eligibility(dataset: Dataset) -> None:
    """1.x/2.0 eligibility rows become their services' eligibility description."""
    rows = dataset.tables.pop("eligibility", [])
    if rows:
        merged = versions.eligibility_merge(rows, dataset.rows("services"))
        dataset.note(
            rows[0]["_source"],
            None,
            "eligibility",
            f"{len(rows)} row(s) became the eligibility description of {merged} service(s)",
        )


def _finish(dataset: Dataset, *, source: str) -> None:
    """What every shape gets once read: stable UUIDs, web addresses with a scheme, names that
    fit a page title (the whole name kept)."""
    counts = versions.ids_to_uuids(dataset.tables, source=source)
    for table, count in counts.items():
        dataset.note(
            dataset.tables[table][0]["_source"],
            None,
            "id",
            f"{count} id(s) of {table} are not UUIDs: each was given a stable UUID made from the "
            f"source key {source!r}, the table and the id (the original is kept); import another "
            "source with overlapping ids under its own source key",
        )
    for table, columns in _URL_COLUMNS.items():
        for column in (*columns, *(("url",) if table == "organizations" else ())):
            _urls_repair(dataset, table, column)
    for table in ("organizations", "services"):
        for row in dataset.rows(table):
            name = row.get("name")
            if isinstance(name, str) and len(name.strip()) > TITLE_MAX:
                full = name.strip()
                row["name"] = full[: TITLE_MAX - 1].rstrip() + "…"
                row["x_full_name"] = full
                dataset.warnings.append(
                    Problem(
                        row["_source"],
                        row["_row"],
                        "name",
                        f"is {len(full)} characters long; the page title keeps the first "
                        f"{TITLE_MAX} and the whole name is kept for export",
                        row.get("_path", ""),
                    )
                )


def _urls_repair(dataset: Dataset, table: str, column: str) -> None:
    repaired: dict[str, list[tuple[int | None, str]]] = defaultdict(list)
    for row in dataset.rows(table):
        value = row.get(column)
        if isinstance(value, str) and value and "://" not in value:
            text = value.strip()
            if _SCHEMELESS_URL.match(text) and not text.lower().startswith("mailto:"):
                row[column] = f"https://{text}"
                repaired[row["_source"]].append((row["_row"], text))
    for source, rows in repaired.items():
        first_row, first = rows[0]
        dataset.note(
            source,
            None,
            column,
            f"{len(rows)} web address(es) had no scheme; https:// was added "
            f"(first: row {first_row}, {first!r})",
        )


def read_json_bytes(
    content: bytes, *, name: str = "input.json", source: str | None = None
) -> Dataset:
    """Flatten nested HSDS objects into the tabular form: a service, organization (with its
    services), service at location, taxonomy or taxonomy term object; a list of them; an API
    page envelope (``{"contents": [...]}``); or NDJSON, one object a line."""
    _check_size(name, len(content))
    try:
        text = content.decode("utf-8-sig")
        if name.lower().endswith(".ndjson"):
            data: Any = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(f"{name} is not valid JSON: {exc}") from exc
    items: list[tuple[str, Any]]
    if isinstance(data, dict) and isinstance(data.get("contents"), list):
        items = [(f"$.contents[{i}]", item) for i, item in enumerate(data["contents"])]
    elif isinstance(data, dict) and "id" not in data and isinstance(data.get("services"), list):
        items = [(f"$.services[{i}]", item) for i, item in enumerate(data["services"])]
    elif isinstance(data, dict):
        items = [("$", data)]
    elif isinstance(data, list):
        items = [(f"$[{i}]", item) for i, item in enumerate(data)]
    else:
        raise ReadError(f"{name}: expected an HSDS object, a list of them or a page envelope")
    return read_json_objects(items, name=name, source=source)


def read_json_objects(
    data: list[Any] | list[tuple[str, Any]], *, name: str, source: str | None = None
) -> Dataset:
    """Flatten nested HSDS objects already parsed from JSON (an API page's ``contents``, say)
    into the tabular form; ``data`` holds the objects, or (JSON path, object) pairs."""
    items: list[tuple[str, Any]] = [
        item if isinstance(item, tuple) else (f"$[{i}]", item) for i, item in enumerate(data)
    ]
    dataset = Dataset()
    flattener = _Flattener(dataset, name)
    for index, (path, item) in enumerate(items, start=1):
        if not isinstance(item, dict):
            dataset.errors.append(Problem(name, index, "", "expected an object", path))
            continue
        flattener.top(item, path, index)
    if not any(
        dataset.rows(t) for t in ("organizations", "services", "taxonomy_terms", "taxonomies")
    ):
        dataset.errors.append(Problem(name, None, "", "no HSDS objects in the file"))
    _finish(dataset, source=source or "")
    return dataset


def _json_kind(obj: dict[str, Any], name: str) -> str:
    """Which HSDS object a top-level JSON object is, from its keys (else the file's name)."""
    keys = set(obj)
    if isinstance(obj.get("service"), dict) or (
        {"service_id", "location_id"} <= keys and "name" not in keys
    ):
        return "service_at_location"
    if keys & {"status", "service_at_locations", "organization", "organization_id", "program"}:
        return "service"
    if keys & {"services", "locations", "organization_identifiers", "programs", "website"}:
        return "organization"
    if keys & {"taxonomy_detail", "taxonomy_id", "parent_id", "term_uri"}:
        return "taxonomy_term"
    lowered = PurePosixPath(name).name.lower()
    for kind in ("service_at_location", "organization", "taxonomy_term", "taxonomy"):
        if lowered.startswith(kind):
            return kind
    return "service"


def objects_flattened(
    *,
    name: str,
    organizations: Iterable[dict[str, Any]] = (),
    services: Iterable[dict[str, Any]] = (),
    taxonomies: Iterable[dict[str, Any]] = (),
    terms: Iterable[dict[str, Any]] = (),
) -> Dataset:
    """Nested HSDS objects (as the API and the JSON export give them) as the tables of a
    package, each shared object once: what the CSV export writes."""
    dataset = Dataset()
    flattener = _Flattener(dataset, name)
    # The whole vocabulary first: the first row of an id wins, and a term's own row keeps its
    # parent (the copy nested in a service names the parent only when that service has it too).
    for number, taxonomy in enumerate(taxonomies, start=1):
        flattener._add("taxonomies", taxonomy, f"taxonomies[{number - 1}]", number)
    for number, term in enumerate(terms, start=1):
        flattener.term(term, f"taxonomy_terms[{number - 1}]", number)
    for number, organization in enumerate(organizations, start=1):
        flattener.organization(organization, f"organizations[{number - 1}]", number)
    for number, service in enumerate(services, start=1):
        flattener.service(service, f"services[{number - 1}]", number, organization_id=None)
    return dataset


class _Flattener:
    """Turns nested objects into rows with foreign keys, keeping each shared object once (the
    official examples repeat one phone, contact or schedule under several owners: the first
    owner keeps it)."""

    # The columns of each table: a key from the parent is set only where the table has it.
    COLUMNS: dict[str, frozenset[str]] = {
        table: frozenset(spec.name for spec in specs)
        for table, specs in {**schema.TABLES, **schema.PASSTHROUGH}.items()
    }

    def __init__(self, dataset: Dataset, name: str) -> None:
        self.dataset = dataset
        self.name = name
        self.seen: set[tuple[str, str]] = set()

    def top(self, obj: dict[str, Any], path: str, n: int) -> None:
        kind = _json_kind(obj, self.name)
        if kind == "organization":
            self.organization(obj, path, n)
        elif kind == "service_at_location":
            self.service_at_location(obj, path, n, service_id=None, organization_id=None)
        elif kind == "taxonomy_term":
            self.term(obj, path, n)
        elif kind == "taxonomy":
            self._add("taxonomies", obj, path, n)
        else:
            self.service(obj, path, n, organization_id=None)

    def _add(self, table: str, obj: dict[str, Any], path: str, n: int, **keys: Any) -> bool:
        ident = str(obj.get("id", ""))
        if ident and (table, ident) in self.seen:
            return False
        if ident:
            self.seen.add((table, ident))
        row = {k: v for k, v in obj.items() if not isinstance(v, list | dict)}
        columns = self.COLUMNS.get(table, frozenset())
        row.update({k: v for k, v in keys.items() if v is not None and k in columns})
        self.dataset.add(table, row, source=self.name, number=n, path=path)
        return True

    def _each(self, obj: dict[str, Any], key: str, path: str) -> Iterator[tuple[dict, str]]:
        value = obj.get(key)
        if isinstance(value, dict):
            yield value, f"{path}.{key}"
            return
        if not isinstance(value, list):
            if value is not None:
                self.dataset.errors.append(
                    Problem(self.name, None, key, "expected a list of objects", f"{path}.{key}")
                )
            return
        for index, child in enumerate(value):
            if isinstance(child, dict):
                yield child, f"{path}.{key}[{index}]"
            else:
                self.dataset.errors.append(
                    Problem(self.name, None, key, "expected an object", f"{path}.{key}[{index}]")
                )

    def service(self, obj: dict[str, Any], path: str, n: int, *, organization_id: Any) -> None:
        org_id = obj.get("organization_id") or organization_id
        organization = obj.get("organization")
        if isinstance(organization, dict):
            org_id = organization.get("id", org_id)
            self.organization(organization, f"{path}.organization", n)
        program_id = obj.get("program_id")
        for program, where in self._each(obj, "program", path):
            program_id = program.get("id", program_id)
            self._add("programs", program, where, n, organization_id=org_id)
        if not self._add("services", obj, path, n, organization_id=org_id, program_id=program_id):
            return
        sid = obj.get("id")
        self._owned(obj, path, n, "service", sid)
        for sal, where in self._each(obj, "service_at_locations", path):
            self.service_at_location(sal, where, n, service_id=sid, organization_id=org_id)
        for key, table in (
            ("service_areas", "service_areas"),
            ("cost_options", "cost_options"),
            ("required_documents", "required_documents"),
            ("funding", "funding"),
            ("additional_urls", "urls"),
        ):
            for child, where in self._each(obj, key, path):
                self._add(table, child, where, n, service_id=sid)
                self._meta(child, where, n, table)

    def service_at_location(
        self, obj: dict[str, Any], path: str, n: int, *, service_id: Any, organization_id: Any
    ) -> None:
        service = obj.get("service")
        if isinstance(service, dict):
            service_id = service.get("id", service_id)
            organization = service.get("organization")
            if isinstance(organization, dict):
                organization_id = organization.get("id", organization_id)
            organization_id = service.get("organization_id") or organization_id
            self.service(service, f"{path}.service", n, organization_id=organization_id)
        service_id = obj.get("service_id") or service_id
        location_id = obj.get("location_id")
        location = obj.get("location")
        if isinstance(location, dict):
            location_id = location.get("id", location_id)
            self.location(location, f"{path}.location", n, organization_id=organization_id)
        if self._add(
            "service_at_location", obj, path, n, service_id=service_id, location_id=location_id
        ):
            self._owned(obj, path, n, "service_at_location", obj.get("id"))

    def organization(self, obj: dict[str, Any], path: str, n: int) -> None:
        if not self._add("organizations", obj, path, n):
            return
        oid = obj.get("id")
        self._owned(obj, path, n, "organization", oid)
        for location, where in self._each(obj, "locations", path):
            self.location(location, where, n, organization_id=oid)
        for key, table in (
            ("programs", "programs"),
            ("organization_identifiers", "organization_identifiers"),
            ("funding", "funding"),
            ("additional_websites", "urls"),
        ):
            for child, where in self._each(obj, key, path):
                self._add(table, child, where, n, organization_id=oid)
                self._meta(child, where, n, table)
        for service, where in self._each(obj, "services", path):
            self.service(service, where, n, organization_id=oid)

    def location(self, obj: dict[str, Any], path: str, n: int, *, organization_id: Any) -> None:
        if not self._add(
            "locations", obj, path, n, organization_id=obj.get("organization_id") or organization_id
        ):
            return
        lid = obj.get("id")
        for key, table in (("addresses", "addresses"), ("accessibility", "accessibility")):
            for child, where in self._each(obj, key, path):
                self._add(table, child, where, n, location_id=lid)
                self._meta(child, where, n, table)
        self._owned(obj, path, n, "location", lid)

    def term(self, obj: dict[str, Any], path: str, n: int) -> Any:
        taxonomy = obj.get("taxonomy_detail") or obj.get("taxonomy_object")
        taxonomy_id = obj.get("taxonomy_id")
        if isinstance(taxonomy, dict):
            taxonomy_id = taxonomy.get("id", taxonomy_id)
            self._add("taxonomies", taxonomy, f"{path}.taxonomy_detail", n)
        self._add("taxonomy_terms", obj, path, n, taxonomy_id=taxonomy_id)
        return obj.get("id")

    def _owned(self, obj: dict[str, Any], path: str, n: int, entity: str, ident: Any) -> None:
        """What any object may carry: phones, languages, contacts, schedules, attributes,
        metadata; each gets the owner's id in its ``<entity>_id`` column."""
        owner = {f"{entity}_id": ident}
        for phone, where in self._each(obj, "phones", path):
            if self._add("phones", phone, where, n, **owner):
                for language, at in self._each(phone, "languages", where):
                    self._add("languages", language, at, n, phone_id=phone.get("id"))
                self._meta(phone, where, n, "phones")
        for language, where in self._each(obj, "languages", path):
            self._add("languages", language, where, n, **owner)
        for contact, where in self._each(obj, "contacts", path):
            if self._add("contacts", contact, where, n, **owner):
                for phone, at in self._each(contact, "phones", where):
                    self._add("phones", phone, at, n, contact_id=contact.get("id"))
        for schedule, where in self._each(obj, "schedules", path):
            self._add("schedules", schedule, where, n, **owner)
        for attribute, where in self._each(obj, "attributes", path):
            term_id = attribute.get("taxonomy_term_id")
            term = attribute.get("taxonomy_term")
            if isinstance(term, dict):
                term_id = self.term(term, f"{where}.taxonomy_term", n) or term_id
            self._add(
                "attributes",
                attribute,
                where,
                n,
                taxonomy_term_id=term_id,
                link_id=ident,
                link_entity=entity,
            )
        self._meta(obj, path, n, entity)

    def _meta(self, obj: dict[str, Any], path: str, n: int, entity: str) -> None:
        entity = versions.ENTITY_SINGULAR.get(entity, entity)
        for item, where in self._each(obj, "metadata", path):
            self._add(
                "metadata",
                item,
                where,
                n,
                resource_id=item.get("resource_id") or obj.get("id"),
                resource_type=item.get("resource_type") or entity,
            )
