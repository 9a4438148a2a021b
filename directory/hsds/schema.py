"""The HSDS 3.0 objects Handoff reads and writes, as Python data, and two validators.

Source: the Open Referral Human Services Data Specification, GitHub repository
``openreferral/specification``, branch ``3.0``, folder ``schema/`` (one JSON Schema per object,
with the tabular-only requirements under each schema's ``tabular_required`` key). The facts were
read from the 3.0-branch state at commit ``98766d7c4b97d8bd2a15c37f62ed01d12bb70fe2``
(``schema/compiled/service_with_definitions.json``, ``schema/location.json`` and
``schema/service_at_location.json`` at that commit). This module restates those facts - field
names and order, JSON types, formats, enum values, required lists - in Handoff's own words; it
contains no schema text.

Reading the schema into this module:

* ``TABLES`` keeps, per CSV file, the object's scalar properties (not ``array`` or ``object``
  ones) in the schema's order. In HSDS 3.0 the foreign-key columns of the tabular form
  (``phones.location_id``, ``services.organization_id`` ...) are ordinary properties of each
  object, so they appear in that order too.
* ``FieldSpec.required`` means required in the tabular form: the object's ``required`` list plus
  its ``tabular_required`` list. ``REQUIRED_JSON`` is the ``required`` list alone, which is what
  a nested (compiled) JSON object has to carry.
* ``FieldSpec.format`` is the schema's ``format`` (``uuid``, ``email``, ``uri``, ``date-time``)
  or, for the fields that only carry a tabular ``datapackage_type`` of ``date``, ``time`` or
  ``datetime``, ``date``, ``time`` or ``date-time``.

Messages. Every message names where it happened: ``'<table> row <n> <field>: <problem>'`` for
CSV rows (``n`` counts data rows from 1, not counting the header) and ``'<json path>: <problem>'``
for nested objects (``'service.phones[0].number: ...'``). A message that starts with
``NOTE_PREFIX`` (``'note: '``) is information, not an error: HSDS allows extra columns, so an
unknown column is reported once per table as a note. Use ``errors_only`` to drop notes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = [
    "NESTED",
    "NOTE_PREFIX",
    "REQUIRED_JSON",
    "SOURCE_COMMIT",
    "TABLES",
    "TABLE_OBJECT",
    "FieldSpec",
    "errors_only",
    "is_note",
    "table_columns",
    "validate_service_object",
    "validate_table_rows",
]

SOURCE_REPOSITORY = "openreferral/specification"
SOURCE_BRANCH = "3.0"
SOURCE_COMMIT = "98766d7c4b97d8bd2a15c37f62ed01d12bb70fe2"

NOTE_PREFIX = "note: "


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str  # "string" | "number" | "integer" | "boolean" | "array" | "object"
    required: bool  # required in the tabular (CSV) form: "required" + "tabular_required"
    format: str = ""  # "uuid", "email", "uri", "date", "time", "date-time" or ""
    enum: tuple[str, ...] = ()


def _s(
    name: str, *, required: bool = False, fmt: str = "", enum: tuple[str, ...] = ()
) -> FieldSpec:
    return FieldSpec(name, "string", required, fmt, enum)


def _n(name: str) -> FieldSpec:
    return FieldSpec(name, "number", False)


def _id() -> FieldSpec:
    return FieldSpec("id", "string", True, "uuid")


def _fk(name: str, *, required: bool = False) -> FieldSpec:
    return FieldSpec(name, "string", required, "uuid")


SERVICE_STATUS = ("active", "inactive", "defunct", "temporarily closed")
LOCATION_TYPE = ("physical", "postal", "virtual")
ADDRESS_TYPE = ("physical", "postal", "virtual")
SCHEDULE_FREQ = ("WEEKLY", "MONTHLY")
SCHEDULE_WKST = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")

TABLES: dict[str, tuple[FieldSpec, ...]] = {
    "organizations": (
        _id(),
        _s("name", required=True),
        _s("alternate_name"),
        _s("description", required=True),
        _s("email", fmt="email"),
        _s("website", fmt="uri"),
        _s("tax_status"),  # deprecated in 3.0
        _s("tax_id"),  # deprecated in 3.0
        _n("year_incorporated"),
        _s("legal_status"),
        _s("logo"),
        _s("uri", fmt="uri"),
        _fk("parent_organization_id"),
    ),
    "services": (
        _id(),
        _fk("organization_id", required=True),  # tabular_required
        _fk("program_id"),
        _s("name", required=True),
        _s("alternate_name"),
        _s("description"),
        _s("url", fmt="uri"),
        _s("email", fmt="email"),
        _s("status", required=True, enum=SERVICE_STATUS),
        _s("interpretation_services"),
        _s("application_process"),
        _s("fees_description"),
        _s("wait_time"),  # deprecated in 3.0
        _s("fees"),  # deprecated in 3.0
        _s("accreditations"),
        _s("eligibility_description"),
        _n("minimum_age"),
        _n("maximum_age"),
        _s("assured_date", fmt="date"),
        _s("assurer_email", fmt="email"),
        _s("licenses"),  # deprecated in 3.0
        _s("alert"),
        _s("last_modified", fmt="date-time"),
    ),
    "locations": (
        _id(),
        _s("location_type", required=True, enum=LOCATION_TYPE),
        _s("url", fmt="uri"),
        _fk("organization_id"),
        _s("name"),
        _s("alternate_name"),
        _s("description"),
        _s("transportation"),
        _n("latitude"),
        _n("longitude"),
        _s("external_identifier"),
        _s("external_identifier_type"),
    ),
    "service_at_location": (
        _id(),
        _fk("service_id", required=True),  # tabular_required
        _fk("location_id", required=True),  # tabular_required
        _s("description"),
    ),
    "addresses": (
        _id(),
        _fk("location_id"),
        _s("attention"),
        _s("address_1", required=True),
        _s("address_2"),
        _s("city", required=True),
        _s("region"),
        _s("state_province", required=True),
        _s("postal_code", required=True),
        _s("country", required=True),
        _s("address_type", required=True, enum=ADDRESS_TYPE),
    ),
    "phones": (
        _id(),
        _fk("location_id"),
        _fk("service_id"),
        _fk("organization_id"),
        _fk("contact_id"),
        _fk("service_at_location_id"),
        _s("number", required=True),
        _n("extension"),
        _s("type"),  # no enum in 3.0; the description points at the RFC 6350 types
        _s("description"),
    ),
    "schedules": (
        _id(),
        _fk("service_id"),
        _fk("location_id"),
        _fk("service_at_location_id"),
        _s("valid_from", fmt="date"),
        _s("valid_to", fmt="date"),
        _s("dtstart", fmt="date"),
        _n("timezone"),
        _s("until", fmt="date"),
        _n("count"),
        _s("wkst", enum=SCHEDULE_WKST),
        _s("freq", enum=SCHEDULE_FREQ),
        _n("interval"),
        _s("byday"),
        _s("byweekno"),
        _s("bymonthday"),
        _s("byyearday"),
        _s("description"),
        _s("opens_at", fmt="time"),
        _s("closes_at", fmt="time"),
        _s("schedule_link", fmt="uri"),
        _s("attending_type"),
        _s("notes"),
    ),
    "languages": (
        _id(),
        _fk("service_id"),
        _fk("location_id"),
        _fk("phone_id"),
        _s("name"),
        _s("code"),
        _s("note"),
    ),
    "taxonomies": (
        _id(),
        _s("name", required=True),
        _s("description", required=True),
        _s("uri", fmt="uri"),
        _s("version"),
    ),
    "taxonomy_terms": (
        _id(),
        _s("code"),
        _s("name", required=True),
        _s("description", required=True),
        _fk("parent_id"),
        _s("taxonomy"),
        _s("language"),
        _fk("taxonomy_id"),
        _s("term_uri", fmt="uri"),
    ),
    "attributes": (
        _id(),
        _fk("link_id", required=True),  # tabular_required
        _fk("taxonomy_term_id", required=True),  # tabular_required
        _s("link_type"),
        _s("link_entity", required=True),  # tabular_required
        _s("value"),
    ),
    "service_areas": (
        _id(),
        _fk("service_id"),
        _s("name"),
        _s("description"),
        _s("extent"),
        _s("extent_type"),  # no enum in 3.0; the description names geojson/topojson/kml/text
        _s("uri"),  # no format in 3.0
    ),
    "cost_options": (
        _id(),
        _fk("service_id", required=True),  # tabular_required
        _s("valid_from", fmt="date"),
        _s("valid_to", fmt="date"),
        _s("option"),
        _s("currency"),
        _n("amount"),
        _s("amount_description"),
    ),
    "required_documents": (
        _id(),
        _fk("service_id"),
        _s("document"),
        _s("uri", fmt="uri"),
    ),
    "accessibility": (
        _id(),
        _fk("location_id"),
        _s("description"),
        _s("details"),
        _s("url", fmt="uri"),
    ),
}

TABLE_OBJECT: dict[str, str] = {
    "organizations": "organization",
    "services": "service",
    "locations": "location",
    "service_at_location": "service_at_location",
    "addresses": "address",
    "phones": "phone",
    "schedules": "schedule",
    "languages": "language",
    "taxonomies": "taxonomy",
    "taxonomy_terms": "taxonomy_term",
    "attributes": "attribute",
    "service_areas": "service_area",
    "cost_options": "cost_option",
    "required_documents": "required_document",
    "accessibility": "accessibility",
}
OBJECT_TABLE: dict[str, str] = {obj: table for table, obj in TABLE_OBJECT.items()}

# The "required" list of each object's JSON schema (without "tabular_required").
REQUIRED_JSON: dict[str, tuple[str, ...]] = {
    "organization": ("id", "name", "description"),
    "service": ("id", "name", "status"),
    "location": ("id", "location_type"),
    "service_at_location": ("id",),
    "address": (
        "id",
        "address_1",
        "city",
        "state_province",
        "postal_code",
        "country",
        "address_type",
    ),
    "phone": ("id", "number"),
    "schedule": ("id",),
    "language": ("id",),
    "taxonomy": ("id", "name", "description"),
    "taxonomy_term": ("id", "name", "description"),
    "attribute": ("id",),
    "service_area": ("id",),
    "cost_option": ("id",),
    "required_document": ("id",),
    "accessibility": ("id",),
}


@dataclass(frozen=True)
class Nested:
    """A property holding other objects: ``child`` is the object name, or "" for objects this
    module does not model (contact, funding, program, metadata, organization_identifier), whose
    container type alone is checked."""

    key: str
    child: str
    many: bool


def _many(key: str, child: str = "") -> Nested:
    return Nested(key, child, True)


def _one(key: str, child: str = "") -> Nested:
    return Nested(key, child, False)


_ATTRS_META = (_many("attributes", "attribute"), _many("metadata"))

# The array/object properties of each object, in schema order.
NESTED: dict[str, tuple[Nested, ...]] = {
    "service": (
        _many("phones", "phone"),
        _many("schedules", "schedule"),
        _many("service_areas", "service_area"),
        _many("service_at_locations", "service_at_location"),
        _many("languages", "language"),
        _one("organization", "organization"),
        _many("funding"),
        _many("cost_options", "cost_option"),
        _one("program"),
        _many("required_documents", "required_document"),
        _many("contacts"),
        *_ATTRS_META,
    ),
    "organization": (
        _many("funding"),
        _many("contacts"),
        _many("phones", "phone"),
        _many("locations", "location"),
        _many("programs"),
        _many("organization_identifiers"),
        *_ATTRS_META,
    ),
    "service_at_location": (
        _many("contacts"),
        _many("phones", "phone"),
        _many("schedules", "schedule"),
        _one("location", "location"),
        *_ATTRS_META,
    ),
    "location": (
        _many("languages", "language"),
        _many("addresses", "address"),
        _many("contacts"),
        _many("accessibility", "accessibility"),
        _many("phones", "phone"),
        _many("schedules", "schedule"),
        *_ATTRS_META,
    ),
    "phone": (_many("languages", "language"), *_ATTRS_META),
    "address": _ATTRS_META,
    "schedule": _ATTRS_META,
    "language": _ATTRS_META,
    "service_area": _ATTRS_META,
    "cost_option": _ATTRS_META,
    "required_document": _ATTRS_META,
    "accessibility": _ATTRS_META,
    "attribute": (_one("taxonomy_term", "taxonomy_term"), _many("metadata")),
    "taxonomy_term": (_one("taxonomy_detail", "taxonomy"), _many("metadata")),
    "taxonomy": (_many("metadata"),),
}


def table_columns(table: str) -> list[str]:
    """The HSDS 3.0 column names of ``table`` (a CSV file name without ``.csv``), in order."""
    return [spec.name for spec in _table(table)]


def is_note(message: str) -> bool:
    return message.startswith(NOTE_PREFIX)


def errors_only(messages: list[str]) -> list[str]:
    return [message for message in messages if not is_note(message)]


# Value rules, kept deliberately simple (documented here, relied on by both validators):
#   uuid       8-4-4-4-12 hexadecimal digits with hyphens, either case (any version/variant).
#   email      one "@", no whitespace, something before it and a dotted domain after it.
#   uri        an absolute URI: a scheme (letter, then letters/digits/+/-/.) then ":" and at
#              least one more character; no whitespace.
#   date       YYYY-MM-DD, a real calendar date.
#   time       HH:MM or HH:MM:SS (optional fraction), 24-hour, optional "Z" or +HH:MM/-HH:MM
#              (or +HHMM) offset; the schema asks for an offset but does not require one.
#   date-time  YYYY-MM-DDTHH:MM[:SS[.fff]] with optional "Z" or offset, a real instant.
#   number     CSV: an optional sign, digits with an optional decimal point, optional exponent
#              (no "nan"/"inf", no thousands separators). JSON: int or float, never bool.
#   integer    CSV: an optional sign and digits. JSON: int, never bool.
#   boolean    CSV: true/false (any case) or 1/0. JSON: bool.
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(
    r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$"
)
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|z|[+-]\d{2}:?\d{2})?$"
)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_BOOLEAN = ("true", "false", "1", "0")


def _format_problem(fmt: str, value: str) -> str:
    """Why ``value`` is not of format ``fmt``, or "" if it is (or ``fmt`` is unknown/empty)."""
    if fmt == "uuid" and not _UUID.match(value):
        return f"not a UUID: {value!r}"
    if fmt == "email" and not _EMAIL.match(value):
        return f"not an email address: {value!r}"
    if fmt == "uri" and not _URI.match(value):
        return f"not an absolute URI: {value!r}"
    if fmt == "date":
        try:
            if not _DATE.match(value):
                raise ValueError(value)
            date.fromisoformat(value)
        except ValueError:
            return f"not a date (YYYY-MM-DD): {value!r}"
    if fmt == "time" and not _TIME.match(value):
        return f"not a time (HH:MM[:SS] with optional Z or offset): {value!r}"
    if fmt == "date-time":
        try:
            if not _DATETIME.match(value):
                raise ValueError(value)
            text = value.replace("t", "T").replace(" ", "T")
            if text[-1:] in ("Z", "z"):
                text = text[:-1] + "+00:00"
            datetime.fromisoformat(text)
        except ValueError:
            return f"not a date-time (YYYY-MM-DDTHH:MM[:SS] with optional offset): {value!r}"
    return ""


def _cell_problem(spec: FieldSpec, value: str) -> str:
    """Why the CSV text ``value`` (non-empty, stripped) does not fit ``spec``, or ""."""
    if spec.type == "number":
        if not _NUMBER.match(value) or not math.isfinite(float(value)):
            return f"not a number: {value!r}"
        return ""
    if spec.type == "integer":
        return "" if _INTEGER.match(value) else f"not an integer: {value!r}"
    if spec.type == "boolean":
        return "" if value.lower() in _BOOLEAN else f"not a boolean (true/false): {value!r}"
    if spec.enum and value not in spec.enum:
        return f"{value!r} is not one of {', '.join(spec.enum)}"
    return _format_problem(spec.format, value)


def validate_table_rows(table: str, rows: list[dict[str, str]]) -> list[str]:
    """Check CSV-form rows of ``table`` (all values strings, '' = empty) against ``TABLES``.

    Values are compared after stripping surrounding whitespace; a missing key and None count as
    empty. Errors, per row and field in column order: a required field empty or absent; a type
    number/integer/boolean value that does not parse; an enum value outside the enum
    (case-sensitive, as the spec spells it); a format uuid/email/uri/date/time/date-time value
    that breaks the rules above. Each reads ``'<table> row <n> <field>: <problem>'`` (``n`` from
    1). Columns HSDS does not define are allowed: each is reported once, after the errors, as
    ``'note: <table> column <name>: not an HSDS 3.0 column; kept as an extension'``. An empty
    list means the rows are valid and have no extra columns; ``errors_only`` drops the notes.
    Raises ValueError for a table name not in ``TABLES``.
    """
    specs = _table(table)
    known = {spec.name for spec in specs}
    messages: list[str] = []
    unknown: list[str] = []
    for number, row in enumerate(rows, start=1):
        for key in row:
            if key not in known and key not in unknown:
                unknown.append(key)
        for spec in specs:
            raw: Any = row.get(spec.name)
            value = raw.strip() if isinstance(raw, str) else ""
            if not value:
                if spec.required:
                    messages.append(f"{table} row {number} {spec.name}: required field is empty")
                continue
            problem = _cell_problem(spec, value)
            if problem:
                messages.append(f"{table} row {number} {spec.name}: {problem}")
    messages.extend(
        f"{NOTE_PREFIX}{table} column {name}: not an HSDS 3.0 column; kept as an extension"
        for name in unknown
    )
    return messages


def validate_service_object(obj: dict[str, Any]) -> list[str]:
    """Check one nested (compiled) HSDS 3.0 service object as published in JSON.

    For the service and every object nested under the keys its schema defines (``NESTED``:
    organization and its locations/phones, service_at_locations[].location and its addresses,
    phones, schedules, languages, accessibility, service_areas, cost_options,
    required_documents, attributes[].taxonomy_term[.taxonomy_detail] ...): the ``REQUIRED_JSON``
    keys are present and not null (and, for strings, not blank); scalar values have the JSON
    type of their field (a string a str, a number an int or float, an integer an int, never a
    bool for either; null is accepted for optional fields); enum and format rules as for CSV;
    arrays are lists of objects, objects are dicts (null accepted). Objects this module does not
    model (contacts, funding, program, metadata, organization_identifiers) get the container
    check only; keys the schema does not define are ignored. Messages read
    ``'<path>: <problem>'``, e.g. ``'service.phones[0].number: required field is missing'``.
    """
    candidate: object = obj  # callers may pass whatever json.loads returned
    if not isinstance(candidate, dict):
        return [f"service: expected an object, got {_json_type(candidate)}"]
    messages: list[str] = []
    _check_object("service", candidate, "service", messages)
    return messages


def _check_object(name: str, obj: dict[str, Any], path: str, messages: list[str]) -> None:
    required = REQUIRED_JSON.get(name, ())
    for spec in TABLES[OBJECT_TABLE[name]]:
        where = f"{path}.{spec.name}"
        if spec.name not in obj or obj[spec.name] is None:
            if spec.name in required:
                messages.append(f"{where}: required field is missing")
            continue
        problem = _json_problem(spec, obj[spec.name], spec.name in required)
        if problem:
            messages.append(f"{where}: {problem}")
    for nested in NESTED.get(name, ()):
        value = obj.get(nested.key)
        if value is None:
            continue
        where = f"{path}.{nested.key}"
        if not nested.many:
            if not isinstance(value, dict):
                messages.append(f"{where}: expected an object, got {_json_type(value)}")
            elif nested.child:
                _check_object(nested.child, value, where, messages)
            continue
        if not isinstance(value, list):
            messages.append(f"{where}: expected an array, got {_json_type(value)}")
            continue
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                messages.append(f"{where}[{index}]: expected an object, got {_json_type(item)}")
            elif nested.child:
                _check_object(nested.child, item, f"{where}[{index}]", messages)


def _json_problem(spec: FieldSpec, value: Any, required: bool) -> str:
    """Why the JSON ``value`` (not None) does not fit ``spec``, or ""."""
    if spec.type == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"expected a number, got {_json_type(value)} {value!r}"
        return "" if math.isfinite(value) else f"not a finite number: {value!r}"
    if spec.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return f"expected an integer, got {_json_type(value)} {value!r}"
        return ""
    if spec.type == "boolean":
        return "" if isinstance(value, bool) else f"expected a boolean, got {_json_type(value)}"
    if not isinstance(value, str):
        return f"expected a string, got {_json_type(value)} {value!r}"
    if not value.strip():
        return "required field is empty" if required else ""
    if spec.enum and value not in spec.enum:
        return f"{value!r} is not one of {', '.join(spec.enum)}"
    return _format_problem(spec.format, value)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _table(table: str) -> tuple[FieldSpec, ...]:
    try:
        return TABLES[table]
    except KeyError:
        raise ValueError(f"not an HSDS table this module describes: {table!r}") from None
