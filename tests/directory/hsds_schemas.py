"""JSON Schemas of HSDS 3.0 objects built from ``directory.hsds.schema`` (the project's own
restatement of the specification's facts), for tests to validate API answers and exports with
``jsonschema``; and the official compiled schemas, when ``HSDS_SCHEMA_DIR`` names a folder
holding them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from directory.hsds import schema

OFFICIAL_BASE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
JSON_TYPES = {"string": "string", "number": "number", "integer": "integer", "boolean": "boolean"}


def object_schema(name: str, *, nested: bool = True) -> dict[str, Any]:
    """The JSON Schema of HSDS object ``name`` (``service``, ``location``...): its fields' types,
    formats and enums, its required list, and (``nested``) its nested objects, recursively."""
    table = schema.OBJECT_TABLE[name]
    properties: dict[str, Any] = {}
    for spec in schema.TABLES[table]:
        prop: dict[str, Any] = {"type": JSON_TYPES[spec.type]}
        if spec.format and spec.format != "time":
            prop["format"] = spec.format
        if spec.enum:
            prop["enum"] = list(spec.enum)
        properties[spec.name] = prop
    if nested:
        for item in schema.NESTED.get(name, ()):
            child = object_schema(item.child) if item.child else {"type": "object"}
            properties[item.key] = {"type": "array", "items": child} if item.many else child
    return {
        "type": "object",
        "required": list(schema.REQUIRED_JSON[name]),
        "properties": properties,
    }


def validator(name: str, *, nested: bool = True) -> Draft202012Validator:
    return Draft202012Validator(object_schema(name, nested=nested), format_checker=FormatChecker())


def errors(name: str, obj: Any, *, nested: bool = True) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator(name, nested=nested).iter_errors(obj)
    ]


def official_dir() -> Path | None:
    folder = os.environ.get("HSDS_SCHEMA_DIR")
    return Path(folder) if folder else None


def official_validator(file_name: str) -> Draft202012Validator:
    """A validator of one official compiled schema file (``service.json``...), offline: every
    ``$ref`` to another file of the folder is resolved from the folder."""
    folder = official_dir()
    assert folder is not None
    resources = []
    for path in folder.glob("*.json"):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(contents, default_specification=DRAFT202012)
        resources.append((path.name, resource))
        resources.append(
            (
                f"https://raw.githubusercontent.com/openreferral/specification/3.0/schema/compiled/{path.name}",
                resource,
            )
        )
    registry = Registry().with_resources(resources)
    contents = json.loads((folder / file_name).read_text(encoding="utf-8"))
    return Draft202012Validator(contents, registry=registry, format_checker=FormatChecker())
