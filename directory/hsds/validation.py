"""Two validators of HSDS 3.0 data against the facts in ``directory.hsds.schema``: CSV rows of a
table, and a nested (compiled) service object as published in JSON.

Messages. Every message names where it happened: ``'<table> row <n> <field>: <problem>'`` for
CSV rows (``n`` counts data rows from 1, not counting the header) and ``'<json path>: <problem>'``
for nested objects (``'service.phones[0].number: ...'``). A message that starts with
``NOTE_PREFIX`` (``'note: '``) is information, not an error: HSDS allows extra columns, so an
unknown column is reported once per table as a note. Use ``errors_only`` to drop notes.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

from .schema import (
    HANDOFF_EXTENSIONS,
    NESTED,
    OBJECT_TABLE,
    REQUIRED_JSON,
    TABLES,
    FieldSpec,
    table_fields,
)

__all__ = [
    "NOTE_PREFIX",
    "errors_only",
    "is_note",
    "validate_service_object",
    "validate_table_rows",
]

NOTE_PREFIX = "note: "


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
    Handoff's own extension columns (``schema.HANDOFF_EXTENSIONS``) are not noted.
    Raises ValueError for a table name not in ``TABLES``.
    """
    specs = table_fields(table)
    known = {spec.name for spec in specs} | set(HANDOFF_EXTENSIONS.get(table, ()))
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
