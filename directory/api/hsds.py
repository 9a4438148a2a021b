"""The HSDS 3.0 API of a network's directory: public, read-only, on each network's host at
``/api/hsds/`` (the Open Referral API reference for HSDS 3.0).

Thin: each operation checks its parameters, asks ``directory.hsds.selectors`` for the
network's published listings, and answers what ``directory.hsds.serializing`` makes of them
(the same objects ``hsds_export`` writes). Around every operation (``directory.api.public``):
CORS for reads, rate limiting, the network of the host, ETag / Last-Modified and 304.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Max, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import http_date
from django.utils.translation import gettext as _
from ninja import Field, Query, Schema
from pydantic import AfterValidator, BeforeValidator

from cms.api import (
    MAX_PAGE,
    MAX_PER_PAGE,
    ApiError,
    ErrorOut,
    Page,
    api_make,
    iso_date_text,
    page_envelope,
    page_params,
)
from network.models import Network

from ..geocoding import GeocodingError, geocode
from ..hsds import documents, selectors
from ..hsds.selectors import HsdsFilter, Near
from ..hsds.serializing import HSDS_VERSION, service_minimal
from ..models import ServiceDocument

HsdsObject = dict[str, Any]
PROFILE_URL = "https://docs.openreferral.org/en/latest/hsds/profiles.html"

api = api_make(
    title="Handoff HSDS 3.0 API",
    version=HSDS_VERSION,
    urls_namespace="directory:hsds",
    description=(
        "A network's community resource directory as Open Referral HSDS 3.0, public and "
        "read-only. Lists are paged (page from 1, per_page up to 100) and every filter given "
        "must match (AND)."
    ),
)


class Root(Schema):
    version: str
    profile: str
    openapi_url: str
    description: str
    publisher: dict[str, Any]


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC (without an offset, it is taken as UTC); one that UTC cannot hold
    (an offset at the calendar's ends) is refused."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(_("This instant is out of range.")) from None


Instant = Annotated[datetime, BeforeValidator(iso_date_text), AfterValidator(_in_utc)]


class PagingQuery(Schema):
    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    per_page: int = Field(
        50, ge=1, le=MAX_PER_PAGE, description="Items a page, 1 to 100 (default 50)."
    )
    format: Literal["json"] = Field("json", description="Only json.")


class ServiceQuery(PagingQuery):
    search: str = Field("", description="Words that must all appear in the name or description.")
    taxonomy_term_id: uuid.UUID | None = Field(
        None, description="Tagged with this term or one below it."
    )
    taxonomy_id: uuid.UUID | None = Field(None, description="Tagged with a term of this taxonomy.")
    organization_id: uuid.UUID | None = Field(None, description="Offered by this organization.")
    modified_after: Instant | None = Field(
        None, description="Published on or after this instant (no offset: UTC)."
    )
    minimal: bool = Field(False, description="Only id, name, status and last_modified.")
    full: bool = Field(False, description="Fully nested services.")
    full_service: bool = Field(False, description="The same as full.")
    postcode: str = Field("", max_length=20, description="Offered at a location in this postcode.")
    proximity: float | None = Field(
        None, gt=0, le=500_000, description="Metres from the postcode's centre (needs postcode)."
    )


class OrganizationQuery(PagingQuery):
    search: str = ""
    taxonomy_term_id: uuid.UUID | None = None
    taxonomy_id: uuid.UUID | None = None
    modified_after: Instant | None = None
    full: bool = Field(False, description="Organizations with their phones and locations.")
    full_service: bool = Field(False, description="With their services, fully nested.")


class TaxonomyQuery(PagingQuery):
    search: str = ""


class TermQuery(PagingQuery):
    search: str = ""
    taxonomy_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = Field(None, description="Terms directly below this one.")
    top_only: bool = Field(False, description="Only terms without a parent.")


class SalQuery(ServiceQuery):
    pass


class FullServiceOut(Schema):
    """A fully nested HSDS 3.0 service (schema/compiled/service.json)."""

    id: str
    name: str
    status: str


ANY_PAGE = Page[dict[str, Any]]


def answers(found: Any, *, reads_input: bool = True) -> dict[int, Any]:
    """An operation's answers: ``found`` (200); 304 to a conditional request its ETag or
    Last-Modified matches, 404 on a host that serves no directory (and for an id nothing has),
    429 over the rate limit (``directory.api.public``); 400 if it reads parameters."""
    documented: dict[int, Any] = {200: found, 304: None, 404: ErrorOut, 429: ErrorOut}
    if reads_input:
        documented[400] = ErrorOut
    return dict(sorted(documented.items()))


def _network(request: HttpRequest) -> Network:
    return request.hsds_network  # type: ignore[attr-defined]


def _json(data: Any, *, last_modified: datetime | None = None) -> HttpResponse:
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")),
        content_type="application/json",
    )
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    return response


def _filter(query: Any) -> HsdsFilter:
    postcode = getattr(query, "postcode", "").strip()
    proximity = getattr(query, "proximity", None)
    near = None
    if proximity is not None:
        if not postcode:
            message = _("proximity is measured from a postcode: give postcode too.")
            raise ApiError(400, "invalid", message, [{"field": "proximity", "message": message}])
        try:
            centre = geocode(postcode)
        except GeocodingError:
            centre = None
        if centre is None:
            message = _("No place is known by this postcode.")
            raise ApiError(400, "invalid", message, [{"field": "postcode", "message": message}])
        near = Near(latitude=centre.latitude, longitude=centre.longitude, metres=proximity)
    return HsdsFilter(
        search=getattr(query, "search", "").strip(),
        taxonomy_term_id=getattr(query, "taxonomy_term_id", None),
        taxonomy_id=getattr(query, "taxonomy_id", None),
        organization_id=getattr(query, "organization_id", None),
        modified_after=getattr(query, "modified_after", None),
        postcode=postcode,
        near=near,
    )


def _page_of(rows: QuerySet[Any], query: PagingQuery) -> tuple[int, Any, list[Any]]:
    params = page_params(query.page, query.per_page)
    total = rows.count()
    items = list(rows[params.offset : params.offset + params.per_page]) if total else []
    return total, params, items


def _json_page(total: int, params: Any, texts: list[str]) -> HttpResponse:
    """A page whose items are stored JSON text, spliced in without parsing them again."""
    envelope = page_envelope(total, params, texts)
    del envelope["contents"]
    head = json.dumps(envelope, separators=(",", ":"))
    body = head[:-1] + ',"contents":[' + ",".join(texts) + "]}"
    return HttpResponse(body, content_type="application/json")


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(404, "not_found", _("Not found.")) from None


# --- operations -------------------------------------------------------------------------------


@api.get(
    "/", response=answers(Root, reads_input=False), summary="About this API", tags=["required"]
)
def root(request: HttpRequest) -> HttpResponse:
    """The HSDS version and profile of this API, and where its OpenAPI document is."""
    network = _network(request)
    return _json(
        {
            "version": HSDS_VERSION,
            "profile": PROFILE_URL,
            "openapi_url": request.build_absolute_uri(reverse("directory:hsds:openapi-json")),
            "description": _("The community resource directory of %(network)s.")
            % {"network": network.name},
            "publisher": {"name": network.name},
        }
    )


@api.get("/services", response=answers(ANY_PAGE), summary="Services", tags=["required"])
def services_list(request: HttpRequest, query: Query[ServiceQuery]) -> HttpResponse:
    """The network's published services: the list form (with the organization's own fields),
    ``full``/``full_service`` for fully nested services, ``minimal`` for id, name, status and
    last modification only."""
    network = _network(request)
    rows = selectors.filtered_documents(network=network, where=_filter(query))
    if query.minimal:
        total, params, found = _page_of(
            rows.only("pk", "hsds_id", "title", "status", "last_published_at"), query
        )
        return _json(page_envelope(total, params, [service_minimal(d) for d in found]))
    column = "full" if query.full or query.full_service else "summary"
    total, params, keys = _page_of(rows.values_list("pk", flat=True), query)
    # The page's keys first (the filters and the offset walk an index, not the documents),
    # then only these documents.
    texts = dict(ServiceDocument.objects.filter(pk__in=keys).values_list("pk", column))
    return _json_page(total, params, [texts[key] for key in keys if key in texts])


@api.get(
    "/services/{id}",
    response=answers(FullServiceOut, reads_input=False),
    summary="One service, fully nested",
    tags=["required"],
)
def service_detail(request: HttpRequest, id: str) -> HttpResponse:
    network = _network(request)
    found = (
        ServiceDocument.objects.filter(network=network, hsds_id=_uuid(id))
        .values_list("full", "last_published_at")
        .first()
    )
    if found is None:
        raise ApiError(404, "not_found", _("No published service has this id."))
    text, last_published_at = found
    response = HttpResponse(text, content_type="application/json")
    if last_published_at is not None:
        response["Last-Modified"] = http_date(last_published_at.timestamp())
    return response


@api.get("/organizations", response=answers(ANY_PAGE), summary="Organizations", tags=["optional"])
def organizations_list(request: HttpRequest, query: Query[OrganizationQuery]) -> HttpResponse:
    """The network's published organizations: their own fields, ``full`` with their phones and
    locations, ``full_service`` also with their services fully nested."""
    network = _network(request)
    total, params, agencies = _page_of(
        selectors.filtered_organizations(network=network, where=_filter(query)), query
    )
    nested = query.full or query.full_service
    contents = documents.organization_objects(
        agencies, network=network, nested=nested, with_services=query.full_service
    )
    return _json(page_envelope(total, params, contents))


@api.get(
    "/organizations/{id}",
    response=answers(dict[str, Any]),
    summary="One organization, fully nested",
    tags=["optional"],
)
def organization_detail(request: HttpRequest, id: str, full_service: bool = False) -> HttpResponse:
    """An organization with its phones, locations and services (each service's own fields,
    or fully nested with ``full_service``)."""
    network = _network(request)
    agency = selectors.published_agencies(network=network).filter(hsds_id=_uuid(id)).first()
    if agency is None:
        raise ApiError(404, "not_found", _("No published organization has this id."))
    (obj,) = documents.organization_objects(
        [agency], network=network, nested=True, with_services=True
    )
    if not full_service:
        obj["services"] = [
            {k: v for k, v in s.items() if not isinstance(v, list | dict)} for s in obj["services"]
        ]
    latest = (
        selectors.published_services(network=network)
        .filter(path__startswith=agency.path)
        .aggregate(latest=Max("last_published_at"))["latest"]
    )
    changed = [d for d in (agency.last_published_at, latest) if d is not None]
    return _json(obj, last_modified=max(changed) if changed else None)


def _in_memory_page(items: list[HsdsObject], query: PagingQuery) -> HttpResponse:
    params = page_params(query.page, query.per_page)
    contents = items[params.offset : params.offset + params.per_page]
    return _json(page_envelope(len(items), params, contents))


def _matches(obj: HsdsObject, search: str) -> bool:
    text = " ".join(str(obj.get(k, "")) for k in ("name", "description", "code")).casefold()
    return all(word.casefold() in text for word in search.split())


@api.get("/taxonomies", response=answers(ANY_PAGE), summary="Taxonomies", tags=["optional"])
def taxonomies_list(request: HttpRequest, query: Query[TaxonomyQuery]) -> HttpResponse:
    """Handoff's taxonomies (SDOH categories, fee type, referral method) and the network's."""
    items = [
        t for t in documents.taxonomies(network=_network(request)) if _matches(t, query.search)
    ]
    return _in_memory_page(items, query)


@api.get(
    "/taxonomies/{id}",
    response=answers(dict[str, Any], reads_input=False),
    summary="One taxonomy",
    tags=["optional"],
)
def taxonomy_detail(request: HttpRequest, id: str) -> HttpResponse:
    return _one_of(
        documents.taxonomies(network=_network(request)), id, _("No taxonomy has this id.")
    )


def _one_of(items: list[HsdsObject], id: str, not_found: str) -> HttpResponse:
    """The object of ``items`` with this id, or a JSON 404 saying ``not_found``."""
    wanted = str(_uuid(id))
    for item in items:
        if item["id"] == wanted:
            return _json(item)
    raise ApiError(404, "not_found", not_found)


@api.get(
    "/taxonomy_terms",
    response=answers(ANY_PAGE),
    summary="Taxonomy terms",
    tags=["optional"],
)
def taxonomy_terms_list(request: HttpRequest, query: Query[TermQuery]) -> HttpResponse:
    """Every term of the taxonomies above, filtered (AND) by words, taxonomy and parent."""
    items = [
        t
        for t in documents.taxonomy_terms(network=_network(request))
        if _matches(t, query.search)
        and (query.taxonomy_id is None or t.get("taxonomy_id") == str(query.taxonomy_id))
        and (query.parent_id is None or t.get("parent_id") == str(query.parent_id))
        and (not query.top_only or "parent_id" not in t)
    ]
    return _in_memory_page(items, query)


@api.get(
    "/taxonomy_terms/{id}",
    response=answers(dict[str, Any], reads_input=False),
    summary="One taxonomy term",
    tags=["optional"],
)
def taxonomy_term_detail(request: HttpRequest, id: str) -> HttpResponse:
    return _one_of(
        documents.taxonomy_terms(network=_network(request)), id, _("No taxonomy term has this id.")
    )


@api.get(
    "/service_at_locations",
    response=answers(ANY_PAGE),
    summary="Services at locations",
    tags=["optional"],
)
def service_at_locations_list(request: HttpRequest, query: Query[SalQuery]) -> HttpResponse:
    """Where each published service is offered; ``postcode`` and ``proximity`` (metres from
    the postcode's centre, nearest first) find them by place, never at a confidential address.
    ``full`` nests the location and the hours there."""
    network = _network(request)
    rows = selectors.filtered_service_at_locations(network=network, where=_filter(query))
    total, params, sals = _page_of(rows.only("pk", "page_id"), query)
    full = query.full or query.full_service
    return _json(
        page_envelope(
            total, params, documents.service_at_location_objects(sals, network=network, full=full)
        )
    )


@api.get(
    "/service_at_locations/{id}",
    response=answers(dict[str, Any], reads_input=False),
    summary="One service at a location, nested",
    tags=["optional"],
)
def service_at_location_detail(request: HttpRequest, id: str) -> HttpResponse:
    network = _network(request)
    sal = (
        selectors.filtered_service_at_locations(network=network, where=HsdsFilter())
        .filter(hsds_id=_uuid(id))
        .only("pk", "page_id")
        .first()
    )
    if sal is None:
        raise ApiError(404, "not_found", _("No published service at a location has this id."))
    (obj,) = documents.service_at_location_objects([sal], network=network, full=True)
    return _json(obj)


__all__ = ["ErrorOut", "api"]
