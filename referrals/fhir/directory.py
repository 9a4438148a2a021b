"""FHIR: the network's directory as Organization, Location and HealthcareService (read and
search), for any system of the network signed in with the matching ``system/<Type>.rs`` scope.

What is served, and the rules it follows (every rule of publication and confidentiality is the
HSDS API's, through ``directory.hsds.selectors``; none is written again here):

* **Organization** ``id`` = ``network.models.Organization`` key (what Task.owner and
  Task.requester name): the network's active organizations, clinics and agencies alike. ``type``
  from ``http://terminology.hl7.org/CodeSystem/organization-type``: ``prov`` (Healthcare
  Provider) for a clinic, ``cg`` (Community Group) for an agency, both for an organization that
  is both. Identifiers: the slug (``urn:handoff:organization``), and an agency's live listing's
  HSDS id (``urn:uuid:…``, the id of the HSDS API).
* **Location** ``id`` = ``directory.models.Location`` key: the locations where a published
  service of the network is offered. A confidential location (a shelter) is served as the HSDS
  API serves it: listed, with its name, description and phones, but without address or
  position, labelled ``meta.security`` = v3-Confidentiality ``R``; a search by place
  (``address-postalcode``, ``near``) never finds it. Stricter than the staff pages
  (``directory.visibility`` shows staff of the network the street): a system copies what it
  reads into another record system, where the shelter's address would no longer be guarded.
* **HealthcareService** ``id`` = ``directory.models.ServicePage`` key: the network's published
  services (live, under a live agency, in the network's directory).

Search: every parameter given must match (AND), the values of one parameter separated by
commas are alternatives (OR). A parameter this server does not know is ignored (FHIR's lenient
handling; ``Prefer: handling=strict`` makes it a 400), and so are ``_format`` and ``_pretty``.
A known parameter with a value that cannot be read (an id that is not a number, an unknown code
or code system, a reference to another type, a malformed ``near``), or with a modifier it does
not take, is a 400 OperationOutcome whose ``expression`` names it. Strings (``name``) match
anywhere in the name, ignoring case (``:exact`` for the whole name, as written). An
organization's ``address-postalcode`` matches the start of its ZIP code (FHIR's string search);
a location's or service's matches the whole postcode of a public location (the HSDS API's
``postcode``). Pages: ``_count`` (default 20, at most 100: more is answered 100 a page; 0,
the total only) and ``_offset``, with a ``next`` link. ``near`` is
``latitude|longitude|distance|units`` (units ``km``, the default, ``mi`` or ``[mi_i]``;
distance 25 km when omitted, at most 500 km), nearest first: a bounding box on the indexed map
points, then the great-circle distance (the HSDS API's own ``proximity`` search).

Each list costs a fixed number of queries whatever its length (the loaders of the HSDS API).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router

from cms.categories import SDOH_CATEGORIES, SDOHCC_SYSTEM
from directory.hsds.selectors import (
    HsdsFilter,
    Near,
    agencies_of,
    filtered_service_at_locations,
    published_services,
    services_by_place,
    services_load,
)
from directory.models import (
    AgencyPage,
    Location,
    LocationHours,
    Phone,
    ReferralMethod,
    ServiceAtLocation,
    ServiceClosure,
    ServicePage,
    ServiceStatus,
)
from network.models import Network, Organization, OrganizationKind

from .base import (
    ERRORS,
    FHIR_PATH,
    FhirRequest,
    OutcomeOut,
    Resource,
    compact,
    fhir_error,
    instant,
    scope_required,
    searchset,
)
from .base import reference as literal_reference

router = Router(tags=["directory"])

ORGANIZATION_SYSTEM = "urn:handoff:organization"
ORGANIZATION_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/organization-type"
SERVICE_TYPE_SYSTEM = "urn:handoff:service-type"
URI_SYSTEM = "urn:ietf:rfc:3986"
LANGUAGE_SYSTEM = "urn:ietf:bcp:47"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
PROVISION_SYSTEM = "http://terminology.hl7.org/CodeSystem/service-provision-conditions"
REFERRAL_METHOD_SYSTEM = "http://terminology.hl7.org/CodeSystem/service-referral-method"

DEFAULT_COUNT = 20
MAX_COUNT = 100
MAX_OFFSET = 10_000_000
MAX_TEXT = 200
DEFAULT_NEAR_KM = 25.0
MAX_NEAR_METRES = 500_000.0
_METRES_PER_UNIT = {"km": 1000.0, "mi": 1609.344, "[mi_i]": 1609.344}

# organization-type code → (display, the kinds of organization it is given to): a clinic is a
# Healthcare Provider, an agency a Community Group, one that is both has both.
_ORGANIZATION_TYPES: dict[str, tuple[str, frozenset[str]]] = {
    "prov": ("Healthcare Provider", frozenset({OrganizationKind.CLINIC, OrganizationKind.BOTH})),
    "cg": ("Community Group", frozenset({OrganizationKind.AGENCY, OrganizationKind.BOTH})),
}
_SDOH_DISPLAYS = dict(SDOH_CATEGORIES)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# HSDS phone types as FHIR ContactPoint systems (and uses).
_PHONE_SYSTEMS = {
    "fax": ("fax", "work"),
    "text": ("sms", "mobile"),
    "cell": ("phone", "mobile"),
    "pager": ("pager", "work"),
    "video": ("other", "work"),
    "textphone": ("other", "work"),
}
_FEE_CODES = {"free": "free", "sliding-scale": "disc", "fee": "cost"}
_CONFIDENTIAL = {"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "restricted"}

# Parameters of every interaction that change nothing in a JSON answer.
_NEUTRAL = frozenset({"_format", "_pretty"})
_PAGING = frozenset({"_count", "_offset"})
_NAME_MODIFIERS = frozenset({"contains", "exact"})

# Each resource's search parameters and the modifiers each takes.
ORGANIZATION_SEARCH: dict[str, frozenset[str]] = {
    "_id": frozenset(),
    "identifier": frozenset(),
    "name": _NAME_MODIFIERS,
    "type": frozenset(),
    "address-postalcode": frozenset(),
}
LOCATION_SEARCH: dict[str, frozenset[str]] = {
    "_id": frozenset(),
    "name": _NAME_MODIFIERS,
    "address-postalcode": frozenset(),
    "near": frozenset(),
    "organization": frozenset(),
}
HEALTHCARE_SERVICE_SEARCH: dict[str, frozenset[str]] = {
    "_id": frozenset(),
    "name": _NAME_MODIFIERS,
    "category": frozenset(),
    "service-category": frozenset(),
    "organization": frozenset(),
    "location": frozenset(),
    "address-postalcode": frozenset(),
}

READ_ERRORS = {**ERRORS, 404: OutcomeOut}


# --- reading a search's parameters ------------------------------------------------------------

# name → (modifier, value) of each time it was given, empty values left out.
Given = dict[str, list[tuple[str, str]]]


def _invalid(parameter: str, message: str) -> Exception:
    return fhir_error(400, "invalid", message, parameter)


def _given(request: FhirRequest, supported: Mapping[str, frozenset[str]]) -> Given:
    """The supported parameters of the query string; 400 for a modifier a parameter does not
    take, and (``Prefer: handling=strict``) for a parameter this server does not know."""
    prefer = request.headers.get("Prefer", "").lower()
    strict = "handling=strict" in re.split(r"[\s;,]+", prefer)
    given: Given = defaultdict(list)
    for key in request.GET:
        name, _colon, modifier = key.partition(":")
        if name in supported or name in _PAGING:
            if modifier and modifier not in supported.get(name, frozenset()):
                raise _invalid(
                    key,
                    _("The search parameter %(name)s does not take the modifier :%(modifier)s.")
                    % {"name": name, "modifier": modifier},
                )
            given[name] += [(modifier, v) for v in request.GET.getlist(key) if v != ""]
        elif strict and name not in _NEUTRAL:
            raise _invalid(
                key,
                _("This server does not support the search parameter %(name)s.") % {"name": key},
            )
    return given


def _split(text: str, separator: str) -> list[str]:
    """``text`` cut at each ``separator`` that is not escaped with a backslash (FHIR's ``\\,``,
    ``\\|``), the escapes kept for the next cut."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current += ["\\", char]
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def _alternatives(value: str) -> list[str]:
    """The comma-separated values of one parameter (any of them may match)."""
    return [_unescaped(v) for v in _split(value, ",") if v != ""]


def _text(parameter: str, value: str) -> str:
    text = _unescaped(value).strip()
    if len(text) > MAX_TEXT:
        raise _invalid(
            parameter,
            _("%(name)s is at most %(max)s characters.") % {"name": parameter, "max": MAX_TEXT},
        )
    return text


def _ids(parameter: str, value: str) -> list[int]:
    ids = []
    for item in _alternatives(value):
        if not re.fullmatch(r"\d{1,18}", item):
            raise _invalid(
                parameter,
                _("%(name)s takes the numeric ids of this server, e.g. 12.") % {"name": parameter},
            )
        ids.append(int(item))
    return ids


def _reference_ids(parameter: str, value: str, resource_type: str, base: str) -> list[int]:
    """The ids of ``12``, ``<type>/12`` or ``<base><type>/12`` (this server's own absolute
    URL), comma-separated."""
    ids = []
    pattern = rf"(?:(?:{re.escape(base)})?{resource_type}/)?(\d{{1,18}})"
    for item in _alternatives(value):
        match = re.fullmatch(pattern, item)
        if match is None:
            raise _invalid(
                parameter,
                _("%(name)s takes a %(type)s of this server, e.g. %(type)s/12.")
                % {"name": parameter, "type": resource_type},
            )
        ids.append(int(match.group(1)))
    return ids


def _tokens(parameter: str, value: str, systems: Mapping[str, Iterable[str]]) -> set[str]:
    """The codes asked by a token parameter (``code``, ``system|code``, ``system|``: every code
    of the system), each checked against ``systems`` (system → its codes)."""
    codes: set[str] = set()
    for item in _split(value, ","):
        if item == "":
            continue
        parts = _split(item, "|")
        if len(parts) > 2:
            raise _invalid(parameter, _("%(name)s takes system|code.") % {"name": parameter})
        system = _unescaped(parts[0]) if len(parts) == 2 else None
        code = _unescaped(parts[-1])
        if system is not None and system not in systems:
            raise _invalid(
                parameter,
                _("%(name)s: this server has no codes of the system %(system)s.")
                % {"name": parameter, "system": system or "(none)"},
            )
        known = {c for s, cs in systems.items() if system in (None, s) for c in cs}
        if code == "" and system is not None:
            codes |= known
        elif code in known:
            codes.add(code)
        else:
            raise _invalid(
                parameter,
                _("%(name)s: %(code)s is not a code this server knows.")
                % {"name": parameter, "code": code},
            )
    return codes


def _name_q(field: str, modifier: str, value: str) -> Q:
    text = _text("name", value)
    return Q(**{field: text}) if modifier == "exact" else Q(**{f"{field}__icontains": text})


def _number(parameter: str, text: str) -> float:
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _invalid(
            parameter, _("%(name)s: %(text)s is not a number.") % {"name": parameter, "text": text}
        )
    return number


def _near(value: str) -> Near:
    """``latitude|longitude|distance|units`` (distance and units optional)."""
    parts = [_unescaped(p).strip() for p in _split(value, "|")]
    if not 2 <= len(parts) <= 4:
        raise _invalid(
            "near", _("near is latitude|longitude|distance|units, e.g. 40.8|-124.2|10|km.")
        )
    latitude, longitude = _number("near", parts[0]), _number("near", parts[1])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise _invalid("near", _("near: latitude is -90 to 90, longitude -180 to 180."))
    distance = _number("near", parts[2]) if len(parts) > 2 and parts[2] else DEFAULT_NEAR_KM
    units = parts[3] if len(parts) > 3 and parts[3] else "km"
    if units not in _METRES_PER_UNIT:
        raise _invalid("near", _("near: give the distance in km or mi."))
    metres = distance * _METRES_PER_UNIT[units]
    if not 0 < metres <= MAX_NEAR_METRES:
        raise _invalid("near", _("near: the distance is more than 0 and at most 500 km."))
    return Near(latitude=latitude, longitude=longitude, metres=metres)


def _integer(given: Given, parameter: str, default: int, maximum: int) -> int:
    values = given.get(parameter)
    if not values:
        return default
    text = values[-1][1].strip()
    if not re.fullmatch(r"\d{1,9}", text) or int(text) > maximum:
        raise _invalid(
            parameter,
            _("%(name)s is a whole number from 0 to %(max)s.")
            % {"name": parameter, "max": maximum},
        )
    return int(text)


def _postcode(value: str) -> str:
    text = _unescaped(value).strip()
    if len(text) > 20:
        raise _invalid("address-postalcode", _("address-postalcode is at most 20 characters."))
    return text


# --- answering a search ----------------------------------------------------------------------


# Makes the resources of the rows of a queryset (a page of a search, or the row read).
Build = Callable[[QuerySet[Any]], list[dict[str, Any]]]


def _search_answer(
    request: FhirRequest, given: Given, rows: QuerySet[Any], build: Build
) -> dict[str, Any]:
    """One page of ``rows`` as a searchset Bundle, with a ``next`` link while more remain."""
    count = min(_integer(given, "_count", DEFAULT_COUNT, 1_000_000), MAX_COUNT)
    offset = _integer(given, "_offset", 0, MAX_OFFSET)
    total = rows.count()
    entries = build(rows[offset : offset + count]) if count and offset < total else []
    next_url = None
    if count and offset + count < total:
        query = request.GET.copy()
        query["_offset"] = str(offset + count)
        query["_count"] = str(count)
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return searchset(request, entries, total, next_url=next_url)


def _read(rows: QuerySet[Any], id: str, resource_type: str, build: Build) -> dict[str, Any]:
    """The resource of the row of ``rows`` with key ``id``, or a 404 OperationOutcome."""
    found = build(rows.filter(pk=int(id))) if re.fullmatch(r"\d{1,18}", id) else []
    if found:
        return found[0]
    raise fhir_error(
        404,
        "not_found",
        _("No %(type)s has the id %(id)s here.") % {"type": resource_type, "id": id[:40]},
    )


def _base(request: FhirRequest) -> str:
    """This server's base URL (what an absolute reference to one of its resources starts with)."""
    return request.build_absolute_uri(FHIR_PATH)


def _network(request: FhirRequest) -> Network:
    network = request.network
    if network is None:  # SmartBearer signs in only at a network's address
        raise fhir_error(404, "not_found", _("No network at this address."))
    return network


# --- shared elements --------------------------------------------------------------------------


def _telecom(
    phones: Iterable[Any] = (), *, phone: str = "", email: str = "", url: str = ""
) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    if phone:
        points.append({"system": "phone", "value": phone, "use": "work"})
    for row in phones:
        system, use = _PHONE_SYSTEMS.get(row.type, ("phone", "work"))
        value = f"{row.number} ext. {row.extension}" if row.extension else row.number
        points.append({"system": system, "value": value, "use": use})
    if email:
        points.append({"system": "email", "value": email, "use": "work"})
    if url:
        points.append({"system": "url", "value": url, "use": "work"})
    return [p for p in points if p["value"]]


def _address(
    *,
    lines: Sequence[str],
    city: str,
    district: str = "",
    state: str,
    postal_code: str,
    country: str = "",
) -> dict[str, Any] | None:
    """A work address, or None when nothing of it is known."""
    address = compact(
        {
            "line": [line for line in lines if line],
            "city": city,
            "district": district,
            "state": state,
            "postalCode": postal_code,
            "country": country,
        }
    )
    if not address or set(address) == {"country"}:
        return None
    return {"use": "work", "type": "physical", **address}


def _uuid_identifier(value: Any) -> dict[str, str] | None:
    return {"system": URI_SYSTEM, "value": f"urn:uuid:{value}"} if value else None


def _time(value: Any) -> str:
    return value.strftime("%H:%M:%S")


def _weekly(rows: Iterable[Any], opens: str, closes: str) -> list[dict[str, Any]]:
    """Weekly openings grouped by their times: FHIR's ``daysOfWeek`` + opening and closing
    (``opens`` and ``closes`` name them: Location and HealthcareService differ); a day open
    from midnight to midnight is ``allDay``."""
    days: dict[tuple[Any, Any], list[int]] = defaultdict(list)
    for row in rows:
        days[(row.opens_at, row.closes_at)].append(row.weekday)
    out = []
    for (opens_at, closes_at), weekdays in sorted(days.items(), key=lambda kv: min(kv[1])):
        element: dict[str, Any] = {"daysOfWeek": [_WEEKDAYS[d] for d in sorted(set(weekdays))]}
        if opens_at == closes_at and opens_at.hour == opens_at.minute == 0:
            element["allDay"] = True
        else:
            element[opens] = _time(opens_at)
            element[closes] = _time(closes_at)
        out.append(element)
    return out


def _active_organizations(network: Network, ids: Iterable[int | None]) -> dict[int, str]:
    """Name of each of these organizations that is active in the network (one query)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(
        Organization.objects.filter(pk__in=wanted, network=network, is_active=True).values_list(
            "pk", "name"
        )
    )


def _organization_reference(
    organization_id: int | None, names: Mapping[int, str], fallback: str
) -> dict[str, str]:
    """Organization/<id> when it is served here, else the agency's name only."""
    if organization_id is not None and organization_id in names:
        return literal_reference("Organization", organization_id, names[organization_id])
    return {"display": fallback}


def _rows(owner: Any, relation: str) -> list[Any]:
    """What a loader attached to ``owner`` as ``relation``."""
    return list(owner._prefetched_objects_cache.get(relation, ()))


# --- Organization -----------------------------------------------------------------------------


def organizations(*, network: Network) -> QuerySet[Organization]:
    """The network's organizations served as FHIR Organizations: the active ones."""
    return Organization.objects.filter(network=network, is_active=True).select_related("listing")


def organization_resource(organization: Organization) -> dict[str, Any]:
    types = [
        {
            "coding": [{"system": ORGANIZATION_TYPE_SYSTEM, "code": code, "display": display}],
            "text": display,
        }
        for code, (display, kinds) in _ORGANIZATION_TYPES.items()
        if organization.kind in kinds
    ]
    listing = getattr(organization, "listing", None)
    identifiers = [
        {"system": ORGANIZATION_SYSTEM, "value": organization.slug},
        _uuid_identifier(listing.hsds_id) if listing is not None and listing.live else None,
    ]
    return compact(
        {
            "resourceType": "Organization",
            "id": str(organization.pk),
            "identifier": identifiers,
            "active": organization.is_active,
            "type": types,
            "name": organization.name,
            "telecom": _telecom(
                phone=organization.phone, email=organization.email, url=organization.website
            ),
            "address": [
                _address(
                    lines=[organization.address_1],
                    city=organization.city,
                    state=organization.state,
                    postal_code=organization.postal_code,
                )
            ],
        }
    )


def _organization_filters(rows: QuerySet[Organization], given: Given) -> QuerySet[Organization]:
    for _modifier, value in given.get("_id", []):
        rows = rows.filter(pk__in=_ids("_id", value))
    for _modifier, value in given.get("identifier", []):
        slugs = _identifier_values(value)
        rows = rows.filter(slug__in=slugs)
    for modifier, value in given.get("name", []):
        rows = rows.filter(_name_q("name", modifier, value))
    for _modifier, value in given.get("type", []):
        codes = _tokens("type", value, {ORGANIZATION_TYPE_SYSTEM: _ORGANIZATION_TYPES})
        kinds = {kind for code in codes for kind in _ORGANIZATION_TYPES[code][1]}
        rows = rows.filter(kind__in=sorted(kinds))
    for _modifier, value in given.get("address-postalcode", []):
        rows = rows.filter(postal_code__istartswith=_postcode(value))
    return rows


def _identifier_values(value: str) -> list[str]:
    """The slugs of ``identifier`` (``urn:handoff:organization|slug`` or ``slug``)."""
    slugs = []
    for item in _split(value, ","):
        parts = _split(item, "|")
        if len(parts) > 2 or (len(parts) == 2 and _unescaped(parts[0]) != ORGANIZATION_SYSTEM):
            raise _invalid(
                "identifier",
                _("identifier takes %(system)s|<slug>.") % {"system": ORGANIZATION_SYSTEM},
            )
        slugs.append(_text("identifier", parts[-1]))
    return slugs


@router.get(
    "/Organization",
    response={200: Resource, **ERRORS},
    url_name="organization-search",
    operation_id="organization_search",
    summary="Search the network's organizations (Bundle)",
    description=(
        "Parameters: _id, identifier, name (contains; :exact), type (organization-type prov "
        "or cg), address-postalcode, _count (at most 100), _offset."
    ),
)
def organization_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "Organization", "s")
    given = _given(request, ORGANIZATION_SEARCH)
    rows = _organization_filters(organizations(network=_network(request)), given)
    return _search_answer(request, given, rows.order_by("name", "pk"), _organization_resources)


def _organization_resources(rows: QuerySet[Organization]) -> list[dict[str, Any]]:
    return [organization_resource(o) for o in rows]


@router.get(
    "/Organization/{id}",
    response={200: Resource, **READ_ERRORS},
    url_name="organization-read",
    operation_id="organization_read",
    summary="An organization of the network",
)
def organization_read(request: FhirRequest, id: str) -> dict[str, Any]:
    scope_required(request, "Organization", "r")
    rows = organizations(network=_network(request))
    return _read(rows, id, "Organization", _organization_resources)


# --- Location ---------------------------------------------------------------------------------


def locations(*, network: Network) -> QuerySet[Location]:
    """The locations where a published service of the network is offered."""
    offered = filtered_service_at_locations(network=network, where=HsdsFilter())
    return Location.objects.filter(pk__in=offered.values("location_id"))


def _location_resources(network: Network) -> Build:
    """Makes the Locations of a page of rows: loaded with their map points, agencies, phones
    and hours, and their agencies' organizations (four queries)."""

    def build(rows: QuerySet[Location]) -> list[dict[str, Any]]:
        loaded = list(
            rows.select_related("page", "point").prefetch_related(
                Prefetch("phones", Phone.objects.order_by("sort_order", "pk")),
                Prefetch("hours", LocationHours.objects.order_by("sort_order", "pk")),
            )
        )
        names = _active_organizations(network, (loc.page.organization_id for loc in loaded))
        return [location_resource(loc, organization_names=names) for loc in loaded]

    return build


def location_resource(
    location: Location, *, organization_names: Mapping[int, str]
) -> dict[str, Any]:
    """A Location; a confidential one without address or position, labelled restricted."""
    hidden = location.address_confidential
    point = getattr(location, "point", None) if not hidden else None
    position = None
    if point is not None and point.latitude is not None and point.longitude is not None:
        position = {"longitude": round(point.longitude, 6), "latitude": round(point.latitude, 6)}
    agency = location.page
    return compact(
        {
            "resourceType": "Location",
            "id": str(location.pk),
            "meta": {"security": [_CONFIDENTIAL]} if hidden else None,
            "identifier": [_uuid_identifier(location.hsds_id)],
            "status": "active",
            "name": location.name,
            "alias": [location.alternate_name],
            "description": location.description,
            "mode": "instance",
            "telecom": _telecom(location.phones.all()),
            "address": None
            if hidden
            else _address(
                lines=[location.address_1, location.address_2],
                city=location.city,
                district=location.region,
                state=location.state_province,
                postal_code=location.postal_code,
                country=location.country,
            ),
            "position": position,
            "managingOrganization": _organization_reference(
                agency.organization_id, organization_names, agency.title
            ),
            "hoursOfOperation": _weekly(location.hours.all(), "openingTime", "closingTime"),
        }
    )


def _location_filters(
    network: Network, rows: QuerySet[Location], given: Given, *, base: str
) -> QuerySet[Location]:
    for _modifier, value in given.get("_id", []):
        rows = rows.filter(pk__in=_ids("_id", value))
    for modifier, value in given.get("name", []):
        rows = rows.filter(_name_q("name", modifier, value))
    for _modifier, value in given.get("organization", []):
        rows = rows.filter(
            page__organization_id__in=_reference_ids("organization", value, "Organization", base)
        )
    for _modifier, value in given.get("address-postalcode", []):
        at = filtered_service_at_locations(
            network=network, where=HsdsFilter(postcode=_postcode(value))
        )
        rows = rows.filter(pk__in=at.values("location_id"))
    nearest = None
    for _modifier, value in given.get("near", []):
        at = filtered_service_at_locations(network=network, where=HsdsFilter(near=_near(value)))
        rows = rows.filter(pk__in=at.values("location_id"))
        nearest = nearest or at
    if nearest is not None:
        # Nearest first: each location's distance to the first point given.
        distance = nearest.filter(location_id=OuterRef("pk")).values("distance")[:1]
        return rows.annotate(distance=Subquery(distance)).order_by("distance", "pk")
    return rows.order_by("pk")


@router.get(
    "/Location",
    response={200: Resource, **ERRORS},
    url_name="location-search",
    operation_id="location_search",
    summary="Search where the network's services are offered (Bundle)",
    description=(
        "Parameters: _id, name (contains; :exact), organization, address-postalcode, near "
        "(latitude|longitude|distance|units, km or mi, nearest first), _count (at most 100), "
        "_offset. A confidential location has no address or position and is never found by "
        "place."
    ),
)
def location_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "Location", "s")
    network = _network(request)
    given = _given(request, LOCATION_SEARCH)
    rows = _location_filters(network, locations(network=network), given, base=_base(request))
    return _search_answer(request, given, rows, _location_resources(network))


@router.get(
    "/Location/{id}",
    response={200: Resource, **READ_ERRORS},
    url_name="location-read",
    operation_id="location_read",
    summary="A location where a service of the network is offered",
)
def location_read(request: FhirRequest, id: str) -> dict[str, Any]:
    scope_required(request, "Location", "r")
    network = _network(request)
    return _read(locations(network=network), id, "Location", _location_resources(network))


# --- HealthcareService ------------------------------------------------------------------------


def _service_resources(network: Network) -> Build:
    """Makes the HealthcareServices of a page of published services: loaded with the HSDS
    API's loader, with their agencies and organizations and their closures from today on (a
    fixed number of queries)."""

    def build(rows: QuerySet[ServicePage]) -> list[dict[str, Any]]:
        loaded = services_load(rows, full=True, location_details=False)
        agencies = agencies_of(loaded, nested=False)
        names = _active_organizations(network, (a.organization_id for a in agencies.values()))
        today = timezone.localdate(timezone=ZoneInfo(network.time_zone))
        closures: dict[int, list[ServiceClosure]] = defaultdict(list)
        for closure in ServiceClosure.objects.filter(
            page_id__in=[s.pk for s in loaded], end_date__gte=today
        ).order_by("start_date", "pk"):
            closures[closure.page_id].append(closure)
        return [
            healthcare_service_resource(
                s,
                agency=agencies.get(s.path[: -ServicePage.steplen]),
                organization_names=names,
                closures=closures.get(s.pk, []),
            )
            for s in loaded
        ]

    return build


def _eligibility(service: Any) -> list[dict[str, str]]:
    low, high = service.minimum_age, service.maximum_age
    if low is not None and high is not None:
        ages = _("Ages %(low)s to %(high)s.") % {"low": low, "high": high}
    elif low is not None:
        ages = _("Ages %(low)s and older.") % {"low": low}
    elif high is not None:
        ages = _("Ages up to %(high)s.") % {"high": high}
    else:
        ages = ""
    text = "\n\n".join(t for t in (service.eligibility_description.strip(), ages) if t)
    return [{"comment": text}] if text else []


def _extra_details(service: Any, documents: Sequence[Any]) -> str:
    """What else a coordinator needs to know, as markdown."""
    parts = [
        service.alert,
        service.application_process
        and _("How to apply: %(text)s") % {"text": service.application_process},
        service.wait_time and _("Wait time: %(text)s") % {"text": service.wait_time},
        service.fees_description and _("Fees: %(text)s") % {"text": service.fees_description},
        documents
        and _("Documents to bring: %(list)s") % {"list": ", ".join(d.document for d in documents)},
        service.interpretation_services
        and _("Interpretation: %(text)s") % {"text": service.interpretation_services},
    ]
    return "\n\n".join(p.strip() for p in parts if p and p.strip())


def healthcare_service_resource(
    service: Any,
    *,
    agency: Any,
    organization_names: Mapping[int, str],
    closures: Sequence[ServiceClosure],
) -> dict[str, Any]:
    """A HealthcareService of a service loaded by ``services_load`` (full, plain rows)."""
    not_available = [
        {
            "description": closure.reason or _("Closed"),
            "during": {
                "start": closure.start_date.isoformat(),
                "end": closure.end_date.isoformat(),
            },
        }
        for closure in closures
    ]
    if service.status == ServiceStatus.TEMPORARILY_CLOSED:
        not_available.insert(0, {"description": _("Temporarily closed")})
    location_ids = list(
        dict.fromkeys(sal.location_id for sal in _rows(service, "service_locations"))
    )
    fee = _FEE_CODES.get(service.fee_type)
    method = "elec" if service.referral_method == ReferralMethod.ELECTRONIC else "phone"
    return compact(
        {
            "resourceType": "HealthcareService",
            "id": str(service.pk),
            "meta": {"lastUpdated": instant(service.last_published_at)},
            "identifier": [_uuid_identifier(service.hsds_id)],
            "active": service.status in (ServiceStatus.ACTIVE, ServiceStatus.TEMPORARILY_CLOSED),
            "providedBy": _organization_reference(
                agency.organization_id if agency else None,
                organization_names,
                agency.title if agency else "",
            )
            if agency
            else None,
            "category": [
                {
                    "coding": [
                        {
                            "system": SDOHCC_SYSTEM,
                            "code": c.code,
                            "display": _SDOH_DISPLAYS.get(c.code, c.display),
                        }
                    ],
                    "text": _SDOH_DISPLAYS.get(c.code, c.display),
                }
                for c in _rows(service, "categories")
            ],
            "type": [
                {
                    "coding": [{"system": SERVICE_TYPE_SYSTEM, "code": t.code, "display": t.name}],
                    "text": t.name,
                }
                for t in _rows(service, "service_types")
            ],
            "location": [literal_reference("Location", pk) for pk in location_ids],
            "name": service.title,
            "comment": service.description,
            "extraDetails": _extra_details(service, _rows(service, "required_documents")),
            "telecom": _telecom(_rows(service, "phones"), email=service.email, url=service.url),
            "serviceProvisionCode": [
                {"coding": [{"system": PROVISION_SYSTEM, "code": fee}]} if fee else None
            ],
            "eligibility": _eligibility(service),
            "communication": [
                {"coding": [{"system": LANGUAGE_SYSTEM, "code": code}]}
                for code in service.languages or ()
                if isinstance(code, str) and code
            ],
            "referralMethod": [{"coding": [{"system": REFERRAL_METHOD_SYSTEM, "code": method}]}],
            "availableTime": _weekly(
                _rows(service, "hours"), "availableStartTime", "availableEndTime"
            ),
            "notAvailable": not_available,
        }
    )


def _service_filters(
    network: Network, rows: QuerySet[ServicePage], given: Given, *, base: str
) -> QuerySet[ServicePage]:
    for _modifier, value in given.get("_id", []):
        rows = rows.filter(pk__in=_ids("_id", value))
    for modifier, value in given.get("name", []):
        rows = rows.filter(_name_q("title", modifier, value))
    categories = {SDOHCC_SYSTEM: _SDOH_DISPLAYS}
    through = ServicePage.categories.through
    for parameter in ("category", "service-category"):
        for _modifier, value in given.get(parameter, []):
            codes = _tokens(parameter, value, categories)
            tagged = through.objects.filter(
                servicepage_id=OuterRef("pk"), sdohcategory__code__in=sorted(codes)
            )
            rows = rows.filter(Exists(tagged))
    for _modifier, value in given.get("organization", []):
        ids = _reference_ids("organization", value, "Organization", base)
        paths = AgencyPage.objects.filter(
            organization_id__in=ids, organization__network=network
        ).values_list("path", flat=True)
        q = Q(pk__in=[])
        for path in paths:
            q |= Q(path__startswith=path)
        rows = rows.filter(q)
    for _modifier, value in given.get("location", []):
        ids = _reference_ids("location", value, "Location", base)
        at = ServiceAtLocation.objects.filter(page_id=OuterRef("pk"), location_id__in=ids)
        rows = rows.filter(Exists(at))
    for _modifier, value in given.get("address-postalcode", []):
        rows = services_by_place(rows, postcode=_postcode(value), near=None)
    return rows


@router.get(
    "/HealthcareService",
    response={200: Resource, **ERRORS},
    url_name="healthcare-service-search",
    operation_id="healthcare_service_search",
    summary="Search the network's published services (Bundle)",
    description=(
        "Parameters: _id, name (contains; :exact), category or service-category (SDOHCC "
        "codes, system|code or code), organization, location, address-postalcode, _count "
        "(at most 100), _offset."
    ),
)
def healthcare_service_search(request: FhirRequest) -> dict[str, Any]:
    scope_required(request, "HealthcareService", "s")
    network = _network(request)
    given = _given(request, HEALTHCARE_SERVICE_SEARCH)
    rows = _service_filters(
        network, published_services(network=network), given, base=_base(request)
    )
    return _search_answer(request, given, rows, _service_resources(network))


@router.get(
    "/HealthcareService/{id}",
    response={200: Resource, **READ_ERRORS},
    url_name="healthcare-service-read",
    operation_id="healthcare_service_read",
    summary="A published service of the network",
)
def healthcare_service_read(request: FhirRequest, id: str) -> dict[str, Any]:
    scope_required(request, "HealthcareService", "r")
    network = _network(request)
    rows = published_services(network=network)
    return _read(rows, id, "HealthcareService", _service_resources(network))


__all__ = [
    "HEALTHCARE_SERVICE_SEARCH",
    "LOCATION_SEARCH",
    "ORGANIZATION_SEARCH",
    "healthcare_service_resource",
    "location_resource",
    "locations",
    "organization_resource",
    "organizations",
    "router",
]
