"""The HSDS 3.0 objects Handoff reads and writes, as Python data.

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

The two validators that check rows and objects against these facts are in
``directory.hsds.validation``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "NESTED",
    "PASSTHROUGH",
    "REQUIRED_JSON",
    "SOURCE_COMMIT",
    "TABLES",
    "TABLE_OBJECT",
    "FieldSpec",
    "table_columns",
    "table_fields",
]

SOURCE_REPOSITORY = "openreferral/specification"
SOURCE_BRANCH = "3.0"
SOURCE_COMMIT = "98766d7c4b97d8bd2a15c37f62ed01d12bb70fe2"


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

# HSDS 3.0 tables Handoff keeps without modelling them (the importer stores them in the owning
# object's ``hsds_extra``): their columns, in the schema's order, like ``TABLES``.
PASSTHROUGH: dict[str, tuple[FieldSpec, ...]] = {
    "contacts": (
        _id(),
        _fk("organization_id"),
        _fk("service_id"),
        _fk("service_at_location_id"),
        _fk("location_id"),
        _s("name"),
        _s("title"),
        _s("department"),
        _s("email", fmt="email"),
    ),
    "programs": (
        _id(),
        _fk("organization_id"),
        _s("name", required=True),
        _s("alternate_name"),
        _s("description", required=True),
    ),
    "funding": (_id(), _fk("organization_id"), _fk("service_id"), _s("source")),
    "organization_identifiers": (
        _id(),
        _fk("organization_id"),
        _s("identifier_scheme"),
        _s("identifier_type", required=True),
        _s("identifier", required=True),
    ),
    "metadata": (
        _id(),
        _fk("resource_id", required=True),
        _s("resource_type", required=True),
        _s("last_action_date", required=True, fmt="date"),
        _s("last_action_type", required=True),
        _s("field_name", required=True),
        _s("previous_value", required=True),
        _s("replacement_value", required=True),
        _s("updated_by", required=True),
    ),
    "meta_table_descriptions": (_id(), _s("name"), _s("language"), _s("character_set")),
    # 3.0.1: a service's additional_urls and an organization's additional_websites.
    "urls": (
        _id(),
        _s("label"),
        _s("url", required=True, fmt="uri"),
        _fk("organization_id"),
        _fk("service_id"),
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


# Columns Handoff adds to HSDS tables and reads back (extensions, as HSDS allows).
HANDOFF_EXTENSIONS: dict[str, tuple[str, ...]] = {
    # The location's street address and map point are confidential (left out of exports).
    "locations": ("address_confidential",),
}


def table_columns(table: str) -> list[str]:
    """The HSDS 3.0 column names of ``table`` (a CSV file name without ``.csv``), in order."""
    return [spec.name for spec in table_fields(table)]


def table_fields(table: str) -> tuple[FieldSpec, ...]:
    try:
        return TABLES[table]
    except KeyError:
        raise ValueError(f"not an HSDS table this module describes: {table!r}") from None
