"""The one serializer of the directory as HSDS 3.0 objects, for the HSDS API and ``hsds_export``.

It turns model instances (loaded with ``directory.hsds.selectors``, which prefetches everything
these functions read, so that a page of objects costs a fixed number of queries) into HSDS 3.0
JSON objects: a service (``minimal``, the list form, or fully nested), an organization, a
location, a service at a location, a taxonomy and a taxonomy term.

Rules every object follows:

* empty values are left out (HSDS has no required empty strings), ``id`` always stays;
* what an HSDS object carried that Handoff does not model (``hsds_extra`` on agencies, services
  and locations) is given back as HSDS properties, except Handoff's own ``x_`` keys; it never
  replaces a property Handoff models, so it cannot bring back a hidden address;
* what Handoff models as a plain value but the source gave as objects (languages, a location's
  accessibility, a service's attributes, a term's taxonomy) goes out as the source's objects,
  under their ids, while they still say what Handoff has; otherwise with ids made from what they
  belong to (``derived_id``);
* a confidential address (``Location.address_confidential``) never appears: the location keeps
  its name and description, loses its address and map point, and says so with Handoff's
  ``address_confidential`` extension property (the public page shows no more).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from network.models import Network

from ..models import (
    AgencyPage,
    Location,
    ServiceAtLocation,
    ServicePage,
    TaxonomyTerm,
)
from .records import NAMESPACE, handoff_taxonomies, well_known_term_id
from .schema import REQUIRED_JSON

HsdsObject = dict[str, Any]
WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
HSDS_VERSION = "3.0"

# What a location's ``hsds_extra`` may never bring back: the address and map point a
# confidential location hides.
_HIDDEN_PLACE = frozenset({"addresses", "latitude", "longitude", "address_confidential"})


def derived_id(*parts: object) -> str:
    """A stable id for what Handoff keeps as a plain value (a language, an attribute)."""
    return str(uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts)))


def network_taxonomy_id(network: Network, name: str) -> str:
    """The id of one of a network's own taxonomies (its terms name it by ``taxonomy``)."""
    return derived_id("taxonomy", network.slug, name)


def _rows(owner: Any, relation: str) -> Iterable[Any]:
    """``owner``'s rows of a one-to-many or many-to-many relation: those the loader attached
    (``directory.hsds.selectors``), read without building the relation's manager (through
    modelcluster's managers, that cost more than the serializing), else from the database."""
    loaded = getattr(owner, "_prefetched_objects_cache", {}).get(relation)
    return loaded if loaded is not None else getattr(owner, relation).all()


def _clean(obj: Mapping[str, Any], *, kind: str = "") -> HsdsObject:
    """Drop empty values, and make numbers JSON numbers. What the schema of a ``kind`` of
    object requires stays, empty (a street address with no ZIP code still has ``postal_code``);
    ``id`` always does."""
    required = REQUIRED_JSON.get(kind, ("id",))
    result: HsdsObject = {}
    for key, value in obj.items():
        if value is None or value == "" or value == []:
            if key not in required:
                continue
            value = "" if value is None and key != "id" else value
        if isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, uuid.UUID):
            value = str(value)
        result[key] = value
    return result


def _with_extra(obj: HsdsObject, extra: Mapping[str, Any] | None, kind: str) -> HsdsObject:
    if extra:
        for key, value in extra.items():
            if key.startswith("x_") or key in obj or (kind == "location" and key in _HIDDEN_PLACE):
                continue
            obj[key] = value
    return obj


def _timestamp(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _clock(value: Any) -> str:
    return str(value.strftime("%H:%M:%S"))


# --- shared pieces ----------------------------------------------------------------------------


def _phone(phone: Any, **owner: str) -> HsdsObject:
    return _clean(
        {
            "id": phone.hsds_id,
            **owner,
            "number": phone.number,
            "extension": int(phone.extension) if phone.extension.isdigit() else None,
            "type": phone.type,
            "description": phone.description,
        },
        kind="phone",
    )


def _kept(extra: Mapping[str, Any] | None, key: str) -> list[dict[str, Any]]:
    """The HSDS objects the importer kept in ``hsds_extra[key]`` as the source gave them."""
    value = (extra or {}).get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _parts(extra: Mapping[str, Any] | None, key: str) -> dict[str, dict[str, Any]]:
    """What the importer kept of a part's properties Handoff has no field for (a schedule's
    ``valid_from``, an address's ``attention``...), by the part's id."""
    return {str(item.get("id")): item for item in _kept(extra, key) if item.get("id")}


def _with_part(obj: HsdsObject, parts: Mapping[str, Mapping[str, Any]]) -> HsdsObject:
    """``obj`` with its kept unmodelled properties (never over one Handoff sets)."""
    for key, value in parts.get(str(obj["id"]), {}).items():
        obj.setdefault(key, value)
    return obj


def _languages(
    codes: Iterable[str], extra: Mapping[str, Any] | None, **owner: str
) -> list[HsdsObject]:
    """A language object per code: the one the source gave for the code (its id, name and
    note), else one with an id made from the owner and the code."""
    ((owner_key, owner_id),) = owner.items()
    given = {str(item.get("code", "")).lower(): item for item in _kept(extra, "languages")}
    result = []
    for code in codes:
        source = given.get(code, {})
        result.append(
            _clean(
                {
                    "id": source.get("id") or derived_id("language", owner_id, code),
                    owner_key: owner_id,
                    "name": source.get("name"),
                    "code": code,
                    "note": source.get("note"),
                }
            )
        )
    return result


def _accessibility(location: Location, location_id: str) -> list[HsdsObject]:
    """The accessibility objects the source gave while the location's accessibility is still
    what they said (the importer joined them); else one object saying what it says now."""
    if not location.accessibility:
        return []
    given = _kept(location.hsds_extra, "accessibility")
    notes = (str(item.get("description") or item.get("details") or "") for item in given)
    said = "\n".join(note for note in notes if note).strip()
    if given and said == location.accessibility.strip():
        return [
            _clean(
                {
                    "id": item.get("id") or derived_id("accessibility", location_id, n),
                    "location_id": location_id,
                    "description": item.get("description"),
                    "details": item.get("details"),
                    "url": item.get("url"),
                }
            )
            for n, item in enumerate(given)
        ]
    return [
        {
            "id": derived_id("accessibility", location_id),
            "location_id": location_id,
            "description": location.accessibility,
        }
    ]


def _schedules(
    hours: Iterable[Any], owner: Any, extra: Mapping[str, Any] | None
) -> list[HsdsObject]:
    """Weekly openings (a row per weekday) joined back into HSDS WEEKLY schedules, with what
    the owner's ``extra`` kept of them.

    ``owner(row)`` names who the schedule belongs to (``{"service_id": ...}``)."""
    kept = _parts(extra, "schedules")
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
    return [
        _with_part(
            _clean(
                {
                    "id": hsds_id,
                    **dict(who),
                    "freq": "WEEKLY",
                    "byday": ",".join(WEEKDAY_CODES[d] for d in sorted(days)),
                    "opens_at": _clock(opens),
                    "closes_at": _clock(closes),
                    "description": note,
                }
            ),
            kept,
        )
        for (hsds_id, who, opens, closes, note), days in grouped.items()
    ]


# --- locations and organizations --------------------------------------------------------------


def location_object(location: Location, *, organization_id: str) -> HsdsObject:
    """A location with its address, phones, hours, languages and accessibility (prefetch
    ``phones`` and ``hours``); a confidential one without address or map point."""
    location_id = str(location.hsds_id)
    hidden = location.address_confidential
    obj = _clean(
        {
            "id": location_id,
            "location_type": location.location_type,
            "organization_id": organization_id,
            "name": location.name,
            "alternate_name": location.alternate_name,
            "description": location.description,
            "transportation": location.transportation,
            "latitude": None if hidden else location.latitude,
            "longitude": None if hidden else location.longitude,
        },
        kind="location",
    )
    if hidden:
        obj["address_confidential"] = True
    obj["addresses"] = []
    if location.address_1 and not hidden:
        address = _clean(
            {
                "id": location.address_hsds_id,
                "location_id": location_id,
                "address_1": location.address_1,
                "address_2": location.address_2,
                "city": location.city,
                "region": location.region,
                "state_province": location.state_province,
                "postal_code": location.postal_code,
                "country": location.country,
                "address_type": "physical",
            },
            kind="address",
        )
        parts = _parts(location.hsds_extra, "addresses")
        address["address_type"] = parts.get(str(address["id"]), {}).get("address_type", "physical")
        obj["addresses"].append(_with_part(address, parts))
        # The location's other addresses (a postal one beside the street), as the source gave.
        obj["addresses"] += [
            _clean(
                {**dict.fromkeys(REQUIRED_JSON["address"], ""), **item, "location_id": location_id},
                kind="address",
            )
            for item in _kept(location.hsds_extra, "addresses")
            if "address_1" in item and str(item.get("id")) != str(address["id"])
        ]
    obj["phones"] = [_phone(p, location_id=location_id) for p in _rows(location, "phones")]
    obj["schedules"] = _schedules(
        _rows(location, "hours"), lambda _row: {"location_id": location_id}, location.hsds_extra
    )
    obj["languages"] = _languages(location.languages, location.hsds_extra, location_id=location_id)
    obj["accessibility"] = _accessibility(location, location_id)
    return _with_extra(obj, location.hsds_extra, "location")


def organization_object(
    agency: AgencyPage, *, nested: bool, services: list[HsdsObject] | None = None
) -> HsdsObject:
    """An organization: its own fields (``nested=False``), or with its phones and locations
    (prefetch ``phones`` and ``locations`` with theirs) and, when given, its services."""
    org_id = str(agency.hsds_id)
    obj = _clean(
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
        },
        kind="organization",
    )
    if nested:
        obj["phones"] = [
            _phone(p, organization_id=org_id)
            for p in _rows(agency, "phones")
            if p.location_id is None
        ]
        obj["locations"] = [
            location_object(location, organization_id=org_id)
            for location in _rows(agency, "locations")
        ]
        if services is not None:
            obj["services"] = services
        _with_extra(obj, agency.hsds_extra, "organization")
    return obj


# --- taxonomies -------------------------------------------------------------------------------


@cache
def _handoff_vocabulary() -> tuple[dict[str, HsdsObject], dict[str, HsdsObject]]:
    taxonomies, terms = handoff_taxonomies()
    return (
        {row["id"]: _clean(row) for row in taxonomies},
        {row["id"]: _clean(row) for row in terms},
    )


def network_taxonomy(network: Network, term: TaxonomyTerm) -> HsdsObject:
    """The taxonomy of one of a network's terms: as its source published it (id, description,
    uri, version) while the term still names it, else one of the network's own, by name."""
    detail = (term.hsds_extra or {}).get("taxonomy_detail")
    if isinstance(detail, dict) and detail.get("id") and detail.get("name") == term.taxonomy:
        return _clean(
            {
                "id": str(detail["id"]),
                "name": term.taxonomy,
                "description": detail.get("description") or f"{network.name}: {term.taxonomy}",
                "uri": detail.get("uri"),
                "version": detail.get("version"),
            },
            kind="taxonomy",
        )
    return {
        "id": network_taxonomy_id(network, term.taxonomy),
        "name": term.taxonomy,
        "description": f"{network.name}: {term.taxonomy}",
    }


def taxonomy_objects(network: Network, terms: Iterable[TaxonomyTerm]) -> list[HsdsObject]:
    """Handoff's own taxonomies (SDOH categories, fee type, referral method), then the
    network's (one per taxonomy its terms name, in the order of the names)."""
    own, _terms = _handoff_vocabulary()
    network_own: dict[str, HsdsObject] = {}
    for term in sorted(terms, key=lambda t: t.taxonomy):
        taxonomy = network_taxonomy(network, term)
        network_own.setdefault(taxonomy["id"], taxonomy)
    return [*own.values(), *network_own.values()]


def taxonomy_term_object(term: TaxonomyTerm, *, network: Network) -> HsdsObject:
    """A network's term (prefetch ``parent``)."""
    extra = term.hsds_extra or {}
    return _clean(
        {
            "id": term.hsds_id,
            "code": term.code,
            "name": term.name,
            "description": term.description or term.name,
            "parent_id": term.parent.hsds_id if term.parent_id and term.parent else None,
            "taxonomy": term.taxonomy,
            "language": extra.get("language"),
            "taxonomy_id": network_taxonomy(network, term)["id"],
            "term_uri": extra.get("term_uri"),
        },
        kind="taxonomy_term",
    )


def taxonomy_term_objects(network: Network, terms: Iterable[TaxonomyTerm]) -> list[HsdsObject]:
    """Handoff's own terms, then the network's."""
    _own, own_terms = _handoff_vocabulary()
    return [*own_terms.values(), *(taxonomy_term_object(t, network=network) for t in terms)]


def _attributes(service: ServicePage, *, network: Network) -> list[HsdsObject]:
    """The terms a service is tagged with (prefetch ``categories`` and ``service_types``),
    as attributes carrying their term and its taxonomy."""
    own_taxonomies, own_terms = _handoff_vocabulary()
    terms = [
        own_terms[str(well_known_term_id("sdohcc", c.code))] for c in _rows(service, "categories")
    ]
    terms.append(own_terms[str(well_known_term_id("fee", service.fee_type))])
    terms.append(own_terms[str(well_known_term_id("referral", service.referral_method))])
    details: dict[str, HsdsObject] = {}
    for service_type in _rows(service, "service_types"):
        terms.append(taxonomy_term_object(service_type, network=network))
        details[terms[-1]["id"]] = network_taxonomy(network, service_type)
    # A nested term names its parent only when the service carries the parent too: a reader of
    # this one object (or of the JSON export, made of these objects) has no other term to look
    # up. The whole tree is in /taxonomy_terms and the export's taxonomy_terms table.
    carried = {term["id"] for term in terms}
    terms = [{k: v for k, v in term.items() if k != "parent_id" or v in carried} for term in terms]
    service_id = str(service.hsds_id)
    given = {str(a.get("taxonomy_term_id")): a for a in _kept(service.hsds_extra, "attributes")}
    attributes = []
    for term in terms:
        source = given.get(str(term["id"]), {})
        taxonomy = own_taxonomies.get(term["taxonomy_id"]) or details[term["id"]]
        attributes.append(
            _clean(
                {
                    "id": source.get("id") or derived_id("attribute", service_id, term["id"]),
                    "link_id": service_id,
                    "link_type": source.get("link_type"),
                    "link_entity": "service",
                    "value": source.get("value"),
                    "taxonomy_term_id": term["id"],
                    "taxonomy_term": {**term, "taxonomy_detail": taxonomy},
                }
            )
        )
    return attributes


# --- services ---------------------------------------------------------------------------------


def service_minimal(service: ServicePage) -> HsdsObject:
    """What a client needs to know whether to fetch a service again: the fields the list
    schema requires and when it last changed."""
    return _clean(
        {
            "id": service.hsds_id,
            "name": service.title,
            "status": service.status,
            "last_modified": _timestamp(service.last_published_at),
        },
        kind="service",
    )


def _service_fields(service: ServicePage, *, organization_id: str) -> HsdsObject:
    return _clean(
        {
            "id": service.hsds_id,
            "organization_id": organization_id,
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
            "last_modified": _timestamp(service.last_published_at),
        },
        kind="service",
    )


def service_object(
    service: ServicePage,
    *,
    agency: AgencyPage,
    network: Network,
    full: bool,
    organization: HsdsObject | None = None,
) -> HsdsObject:
    """A service: its own fields with its organization's (the list form), or fully nested
    (``full``) with its organization, where (service at locations with their locations), when,
    phones, languages, areas, costs, documents and attributes.

    ``organization`` is the agency's nested object when the caller already has it (services
    of one agency share it)."""
    org_id = str(agency.hsds_id)
    obj = _service_fields(service, organization_id=org_id)
    if not full:
        obj["organization"] = organization_object(agency, nested=False)
        return _with_extra(obj, _scalars(service.hsds_extra), "service")
    service_id = str(obj["id"])
    locations = {sal.location_id: sal for sal in _rows(service, "service_locations")}
    obj["organization"] = (
        organization if organization is not None else organization_object(agency, nested=True)
    )
    # The agency's locations, already made for its organization: a service is offered at
    # its agency's locations, so each is made once per agency, not once per service.
    made = {loc["id"]: loc for loc in obj["organization"].get("locations", [])}
    obj["service_at_locations"] = [
        service_at_location_object(
            sal,
            service=service,
            agency=agency,
            nested=True,
            location=made.get(str(sal.location.hsds_id)),
        )
        for sal in locations.values()
    ]
    obj["phones"] = [_phone(p, service_id=service_id) for p in _rows(service, "phones")]
    obj["schedules"] = _schedules(
        (h for h in _rows(service, "hours") if h.location_id not in locations),
        lambda _row: {"service_id": service_id},
        service.hsds_extra,
    )
    obj["languages"] = _languages(service.languages, service.hsds_extra, service_id=service_id)
    areas = _parts(service.hsds_extra, "service_areas")
    obj["service_areas"] = [
        _with_part(
            _clean(
                {
                    "id": area.hsds_id,
                    "service_id": service_id,
                    "name": area.name,
                    "description": area.description,
                }
            ),
            areas,
        )
        for area in _rows(service, "service_areas")
    ]
    options = _parts(service.hsds_extra, "cost_options")
    obj["cost_options"] = [
        _with_part(
            _clean(
                {
                    "id": option.hsds_id,
                    "service_id": service_id,
                    "option": option.option,
                    "currency": option.currency,
                    "amount": option.amount,
                    "amount_description": option.amount_description,
                }
            ),
            options,
        )
        for option in _rows(service, "cost_options")
    ]
    obj["required_documents"] = [
        _clean(
            {
                "id": document.hsds_id,
                "service_id": service_id,
                "document": document.document,
                "uri": document.uri,
            }
        )
        for document in _rows(service, "required_documents")
    ]
    obj["attributes"] = _attributes(service, network=network)
    return _with_extra(obj, service.hsds_extra, "service")


def _scalars(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The one-to-one part of ``hsds_extra`` (the list form carries no arrays)."""
    return {k: v for k, v in (extra or {}).items() if not isinstance(v, list | dict)}


def service_at_location_object(
    sal: ServiceAtLocation,
    *,
    service: ServicePage,
    agency: AgencyPage,
    nested: bool,
    location: HsdsObject | None = None,
) -> HsdsObject:
    """A service at a location: its ids and description, or (``nested``) with its location
    and the service's hours there (prefetch ``location`` with its ``phones`` and ``hours``,
    and the service's ``hours``; or pass the location's object, made already, as
    ``location``)."""
    sal_id = str(sal.hsds_id)
    obj = _clean(
        {
            "id": sal_id,
            "service_id": service.hsds_id,
            "location_id": sal.location.hsds_id,
            "description": sal.description,
        }
    )
    if nested:
        obj["schedules"] = _schedules(
            (h for h in _rows(service, "hours") if h.location_id == sal.location_id),
            lambda _row: {"service_at_location_id": sal_id},
            service.hsds_extra,
        )
        obj["location"] = (
            location
            if location is not None
            else location_object(sal.location, organization_id=str(agency.hsds_id))
        )
    return obj
