"""What a network publishes as HSDS: its live listings, filtered as the HSDS API asks, and
loaded with everything ``directory.hsds.serializing`` reads (a fixed number of queries for any
number of rows).

Published means live: a live service under a live agency under the network's directory. Drafts,
unpublished pages, other networks' pages never come out of here.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import ASin, Cos, Power, Radians, Sin, Sqrt, Substr
from wagtail.models import Page

from cms.bulk import keys_in
from cms.categories import SDOH_CATEGORIES
from network.models import Network

from ..models import (
    AgencyPage,
    CostOption,
    DirectoryIndexPage,
    Location,
    LocationHours,
    Phone,
    RequiredDocument,
    ServiceArea,
    ServiceAtLocation,
    ServiceDocument,
    ServiceHours,
    ServicePage,
    ServicePhone,
    TaxonomyTerm,
)
from .records import (
    FEE_CODES,
    FEE_TAXONOMY_ID,
    REFERRAL_CODES,
    REFERRAL_TAXONOMY_ID,
    SDOH_TAXONOMY_ID,
    well_known_term_id,
)
from .serializing import network_taxonomy

EARTH_RADIUS_METRES = 6_371_008.8
METRES_PER_DEGREE = 111_195.0


@dataclass(frozen=True)
class Near:
    """Within ``metres`` of a point (the centre of a postcode)."""

    latitude: float
    longitude: float
    metres: float


@dataclass(frozen=True)
class HsdsFilter:
    """The HSDS API's list parameters, checked (every one given must match: AND)."""

    search: str = ""
    taxonomy_term_id: uuid.UUID | None = None
    taxonomy_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    modified_after: datetime | None = None
    postcode: str = ""
    near: Near | None = None


def directory_index(*, network: Network) -> DirectoryIndexPage | None:
    return DirectoryIndexPage.objects.child_of(network.root_page).first()


def published_agencies(*, network: Network) -> QuerySet[AgencyPage]:
    """The network's live agency pages, in tree order."""
    index = directory_index(network=network)
    if index is None:
        return AgencyPage.objects.none()
    return AgencyPage.objects.child_of(index).live().order_by("path")


def published_services(*, network: Network) -> QuerySet[ServicePage]:
    """The network's live services whose agency is live too, in tree order."""
    index = directory_index(network=network)
    if index is None:
        return ServicePage.objects.none()
    agency_path_length = len(index.path) + AgencyPage.steplen
    agency_live = AgencyPage.objects.filter(
        path=Substr(OuterRef("path"), 1, agency_path_length), live=True
    )
    return (
        ServicePage.objects.live()
        .filter(path__startswith=index.path, depth=index.depth + 2)
        .filter(Exists(agency_live))
        .order_by("path")
    )


def published_services_among(*, network: Network, pks: Iterable[int]) -> QuerySet[ServicePage]:
    """``published_services`` restricted to these keys, decided from the keys: each page and
    its agency are fetched by key and path, and checked here.

    Asked as one query (``published_services().filter(pk__in=...)``), PostgreSQL plans from
    the table's statistics; inside a bulk import's transaction they don't count the rows just
    written, and the plan walked every service of the network for each batch of keys (4.6 s
    a batch at 50,000 services, growing with the directory)."""
    index = directory_index(network=network)
    wanted = list(pks)
    if index is None or not wanted:
        return ServicePage.objects.none()
    agency_length = len(index.path) + AgencyPage.steplen
    candidates = [
        (pk, path)
        for pk, path, depth, live in keys_in(
            ServicePage.objects.all(), "page_ptr_id", wanted
        ).values_list("pk", "path", "depth", "live")
        if live and depth == index.depth + 2 and path.startswith(index.path)
    ]
    live_agencies = set(
        AgencyPage.objects.filter(
            path__in={path[:agency_length] for _pk, path in candidates}, live=True
        ).values_list("path", flat=True)
    )
    keep = [pk for pk, path in candidates if path[:agency_length] in live_agencies]
    return keys_in(ServicePage.objects.all(), "page_ptr_id", keep).order_by("path")


# --- filters ----------------------------------------------------------------------------------


def _words(search: str) -> list[str]:
    return [w for w in search.split() if w]


def _service_term_q(*, network: Network, term_id: uuid.UUID, prefix: str = "") -> Q:
    """Services tagged with the term, or with any term below it in its tree."""
    for code in _sdoh_codes():
        if term_id == well_known_term_id("sdohcc", code):
            through = ServicePage.categories.through
            return Q(
                Exists(
                    through.objects.filter(
                        servicepage_id=OuterRef(f"{prefix}pk"), sdohcategory__code=code
                    )
                )
            )
    for code in FEE_CODES:
        if term_id == well_known_term_id("fee", code):
            return Q(**{f"{prefix}fee_type": code})
    for code in REFERRAL_CODES:
        if term_id == well_known_term_id("referral", code):
            return Q(**{f"{prefix}referral_method": code})
    terms = list(TaxonomyTerm.objects.filter(network=network).values_list("pk", "parent_id"))
    root = TaxonomyTerm.objects.filter(network=network, hsds_id=term_id).values_list(
        "pk", flat=True
    )
    wanted = set(root)
    grew = bool(wanted)
    while grew:  # the subtree: terms whose parent is wanted, until nothing is added
        before = len(wanted)
        wanted |= {pk for pk, parent in terms if parent in wanted}
        grew = len(wanted) > before
    through = ServicePage.service_types.through
    return Q(
        Exists(
            through.objects.filter(
                servicepage_id=OuterRef(f"{prefix}pk"), taxonomyterm_id__in=sorted(wanted)
            )
        )
    )


def _sdoh_codes() -> list[str]:
    return [code for code, _display in SDOH_CATEGORIES]


def _service_taxonomy_q(*, network: Network, taxonomy_id: uuid.UUID, prefix: str = "") -> Q:
    """Services tagged with any term of the taxonomy."""
    if taxonomy_id == SDOH_TAXONOMY_ID:
        through = ServicePage.categories.through
        return Q(Exists(through.objects.filter(servicepage_id=OuterRef(f"{prefix}pk"))))
    if taxonomy_id in (FEE_TAXONOMY_ID, REFERRAL_TAXONOMY_ID):
        return Q()  # every service has a fee type and a referral method
    terms = TaxonomyTerm.objects.filter(network=network).only("pk", "taxonomy", "hsds_extra")
    wanted = [t.pk for t in terms if network_taxonomy(network, t)["id"] == str(taxonomy_id)]
    if not wanted:
        return Q(pk__in=[])
    through = ServicePage.service_types.through
    return Q(
        Exists(
            through.objects.filter(
                servicepage_id=OuterRef(f"{prefix}pk"), taxonomyterm_id__in=wanted
            )
        )
    )


def _organization_q(*, network: Network, organization_id: uuid.UUID, prefix: str = "") -> Q:
    agency = published_agencies(network=network).filter(hsds_id=organization_id).first()
    if agency is None:
        return Q(pk__in=[])
    return Q(**{f"{prefix}path__startswith": agency.path})


def _public_locations(*, postcode: str, near: Near | None) -> QuerySet[Location]:
    """Locations anyone may find by place: never a confidential one (its postcode or point
    would tell where a shelter is)."""
    locations = Location.objects.filter(address_confidential=False)
    if postcode and near is None:
        locations = locations.filter(postal_code__iexact=postcode)
    if near is not None:
        locations = _within(locations, near=near, prefix="point__")
    return locations


def _within(queryset: QuerySet, *, near: Near, prefix: str) -> QuerySet:
    """Rows whose point (``<prefix>latitude``/``longitude``) is within ``near``: a bounding
    box the indexes can use, then the great-circle distance, annotated as ``distance``."""
    dlat = near.metres / METRES_PER_DEGREE
    dlng = dlat / max(math.cos(math.radians(near.latitude)), 0.01)
    lat, lng = F(f"{prefix}latitude"), F(f"{prefix}longitude")
    boxed = queryset.filter(
        **{
            f"{prefix}latitude__gte": near.latitude - dlat,
            f"{prefix}latitude__lte": near.latitude + dlat,
            f"{prefix}longitude__gte": near.longitude - dlng,
            f"{prefix}longitude__lte": near.longitude + dlng,
        }
    )
    half_dlat = Radians(lat - near.latitude) / 2
    half_dlng = Radians(lng - near.longitude) / 2
    haversine = Power(Sin(half_dlat), 2) + Cos(Radians(lat)) * math.cos(
        math.radians(near.latitude)
    ) * Power(Sin(half_dlng), 2)
    distance = 2 * EARTH_RADIUS_METRES * ASin(Sqrt(haversine))
    return boxed.annotate(distance=distance).filter(distance__lte=near.metres)


def filtered_services(*, network: Network, where: HsdsFilter) -> QuerySet[ServicePage]:
    """The network's published services matching every given filter."""
    services = published_services(network=network)
    return services.filter(_service_q(network=network, where=where, prefix=""))


def _service_q(*, network: Network, where: HsdsFilter, prefix: str) -> Q:
    q = Q()
    for word in _words(where.search):
        q &= (
            Q(**{f"{prefix}title__icontains": word})
            | Q(**{f"{prefix}alternate_name__icontains": word})
            | Q(**{f"{prefix}description__icontains": word})
        )
    if where.taxonomy_term_id is not None:
        q &= _service_term_q(network=network, term_id=where.taxonomy_term_id, prefix=prefix)
    if where.taxonomy_id is not None:
        q &= _service_taxonomy_q(network=network, taxonomy_id=where.taxonomy_id, prefix=prefix)
    if where.organization_id is not None:
        q &= _organization_q(network=network, organization_id=where.organization_id, prefix=prefix)
    if where.modified_after is not None:
        q &= Q(**{f"{prefix}last_published_at__gte": where.modified_after})
    return q


def filtered_documents(*, network: Network, where: HsdsFilter) -> QuerySet[ServiceDocument]:
    """The stored documents of the network's published services matching every given filter,
    in tree order. A document's key is its service's and it copies the columns the filters read
    under the same names, so the service filters apply as they are."""
    rows = ServiceDocument.objects.filter(network=network).order_by("path")
    rows = rows.filter(_service_q(network=network, where=where, prefix=""))
    return services_by_place(rows, postcode=where.postcode, near=where.near)  # type: ignore[arg-type]


def services_by_place(
    services: QuerySet[ServicePage], *, postcode: str, near: Near | None
) -> QuerySet[ServicePage]:
    """Services offered at a public location in the postcode (or within ``near``)."""
    if not postcode and near is None:
        return services
    at = ServiceAtLocation.objects.filter(
        page_id=OuterRef("pk"),
        location__in=_public_locations(postcode=postcode, near=near).values("pk"),
    )
    return services.filter(Exists(at))


def filtered_service_at_locations(
    *, network: Network, where: HsdsFilter
) -> QuerySet[ServiceAtLocation]:
    """The network's published services at their locations, matching every filter; the
    nearest first when ``where.near`` is given. A confidential location is never found by
    place."""
    services = filtered_services(network=network, where=where)
    rows = ServiceAtLocation.objects.filter(page__in=services.values("pk"))
    if where.near is not None:
        rows = _within(
            rows.filter(location__address_confidential=False),
            near=where.near,
            prefix="location__point__",
        )
        return rows.order_by("distance", "page__path", "pk")
    if where.postcode:
        rows = rows.filter(
            location__address_confidential=False, location__postal_code__iexact=where.postcode
        )
    return rows.order_by("page__path", "sort_order", "pk")


def filtered_organizations(*, network: Network, where: HsdsFilter) -> QuerySet[AgencyPage]:
    """The network's published agencies matching every filter; the taxonomy filters match an
    agency offering a published service so tagged."""
    agencies = published_agencies(network=network)
    for word in _words(where.search):
        agencies = agencies.filter(
            Q(title__icontains=word)
            | Q(alternate_name__icontains=word)
            | Q(description__icontains=word)
        )
    if where.taxonomy_term_id is not None or where.taxonomy_id is not None:
        tagged = published_services(network=network).filter(
            _service_q(
                network=network,
                where=HsdsFilter(
                    taxonomy_term_id=where.taxonomy_term_id, taxonomy_id=where.taxonomy_id
                ),
                prefix="",
            )
        )
        agency_path_length = len(directory_index(network=network).path) + AgencyPage.steplen  # type: ignore[union-attr]
        agencies = agencies.filter(
            path__in=tagged.annotate(agency_path=Substr("path", 1, agency_path_length)).values(
                "agency_path"
            )
        )
    if where.modified_after is not None:
        agencies = agencies.filter(last_published_at__gte=where.modified_after)
    return agencies


def network_terms(*, network: Network) -> QuerySet[TaxonomyTerm]:
    return TaxonomyTerm.objects.filter(network=network).select_related("parent").order_by("pk")


# --- loading for the serializer -----------------------------------------------------------------


class PlainRow(SimpleNamespace):
    """A row as its column values (``_attach``, ``_plain``): what the serializer reads of
    services, agencies, phones, hours and the like, without building a model instance per row."""

    @property
    def pk(self) -> Any:
        return self.id


def _attach(
    parents: Sequence[Any],
    relation: str,
    rows: QuerySet[Any],
    *,
    parent_field: str = "page",
    plain: bool = True,
) -> None:
    """Load ``rows`` (a child model's, ordered) of all ``parents`` in one query and attach each
    parent's as its prefetched ``relation``: what ``prefetch_related`` gives, without the
    queryset it builds for every parent (through modelcluster's managers, that cost several
    times the loading itself). The serializer only iterates these relations and reads their
    columns, so the rows come ``plain`` (``PlainRow``) unless they carry related objects."""
    column = f"{parent_field}_id"
    by_parent: dict[int, list[Any]] = defaultdict(list)
    rows = keys_in(rows, column, [p.pk for p in parents])
    for row in _plain(rows) if plain else rows:
        by_parent[getattr(row, column)].append(row)
    _loaded_set(parents, relation, by_parent)


# What the serializer and the stored documents read of a page's own (wagtailcore) columns.
_PAGE_COLUMNS = ("id", "path", "title", "live", "last_published_at")


def _plain(rows: QuerySet[Any]) -> list[Any]:
    """``rows`` as ``PlainRow``s of their columns (of a page: its model's own and the few
    page columns the serializer reads). Pages too: the serializer reads their fields, never
    their methods, and a page instance costs more to build than to serialize."""
    model = rows.model
    names = [
        f.attname
        for f in model._meta.concrete_fields
        if not issubclass(model, Page) or f.model is not Page or f.attname in _PAGE_COLUMNS
    ]
    return [PlainRow(**values) for values in rows.values(*names)]


def _loaded_set(parents: Sequence[Any], relation: str, by_parent: dict[int, list[Any]]) -> None:
    """Each parent's rows as its prefetched ``relation`` (none: an empty list)."""
    for parent in parents:
        if not hasattr(parent, "_prefetched_objects_cache"):
            parent._prefetched_objects_cache = {}
        parent._prefetched_objects_cache[relation] = by_parent.get(parent.pk, [])


def _tags_attach(
    services: Sequence[ServicePage],
    relation: str,
    target: str,
    order: tuple[str, ...],
    *,
    related: tuple[str, ...] = (),
) -> None:
    """Each service's tags of a many-to-many ``relation`` (through rows naming ``target``),
    attached like ``_attach`` and in the tag model's order. A network has few tags and its
    services share them: each tag is loaded once, not once per service carrying it."""
    field = ServicePage._meta.get_field(relation)
    through = field.remote_field.through
    links = list(
        keys_in(through.objects.all(), "servicepage_id", [s.pk for s in services]).values_list(
            "servicepage_id", f"{target}_id"
        )
    )
    tags = field.related_model.objects.filter(pk__in={tag for _service, tag in links})
    ranked = {tag.pk: tag for tag in tags.select_related(*related).order_by(*order, "pk")}
    rank = {pk: n for n, pk in enumerate(ranked)}
    by_service: dict[int, list[Any]] = defaultdict(list)
    for service, tag in sorted(links, key=lambda link: rank[link[1]]):
        by_service[service].append(ranked[tag])
    _loaded_set(services, relation, by_service)


def _ordered(model: Any) -> QuerySet[Any]:
    return model.objects.order_by("sort_order", "pk")


def _locations_attach(locations: Sequence[Location]) -> None:
    _attach(locations, "phones", _ordered(Phone), parent_field="location")
    _attach(locations, "hours", _ordered(LocationHours), parent_field="location")


def _agencies_attach(agencies: Sequence[AgencyPage]) -> None:
    """Each agency's phones and locations, with the locations' phones and hours."""
    _attach(agencies, "phones", _ordered(Phone))
    _attach(agencies, "locations", _ordered(Location))
    _locations_attach([loc for a in agencies for loc in a._prefetched_objects_cache["locations"]])


def services_load(
    services: Sequence[ServicePage] | QuerySet[ServicePage],
    *,
    full: bool,
    location_details: bool = True,
) -> list[Any]:
    """The services with what the serializer reads for the list form or the full one; without
    ``location_details`` the locations of their service_at_locations come bare (the caller
    has their objects from the agencies)."""
    loaded = _plain(services) if isinstance(services, QuerySet) else list(services)
    if not full:
        return loaded
    _tags_attach(loaded, "categories", "sdohcategory", ("sort_order", "display"))
    _tags_attach(loaded, "service_types", "taxonomyterm", ("name",), related=("parent",))
    for relation, model in (
        ("phones", ServicePhone),
        ("cost_options", CostOption),
        ("required_documents", RequiredDocument),
        ("service_areas", ServiceArea),
        ("hours", ServiceHours),
    ):
        _attach(loaded, relation, _ordered(model))
    if location_details:
        sals = _ordered(ServiceAtLocation).select_related("location")
    else:
        sals = (
            _ordered(ServiceAtLocation)
            .select_related("location")
            .only("id", "page_id", "hsds_id", "description", "location__id", "location__hsds_id")
        )
    _attach(loaded, "service_locations", sals, plain=False)
    if location_details:
        _locations_attach(
            list(
                {
                    sal.location_id: sal.location
                    for s in loaded
                    for sal in s._prefetched_objects_cache["service_locations"]
                }.values()
            )
        )
    return loaded


def agencies_of(services: Sequence[Any], *, nested: bool) -> dict[str, Any]:
    """The agency of each service, by the agency's tree path (one query, or five nested)."""
    paths = {s.path[: -ServicePage.steplen] for s in services}
    agencies = _plain(AgencyPage.objects.filter(path__in=paths))
    if nested:
        _agencies_attach(agencies)
    return {a.path: a for a in agencies}


def agencies_load(agencies: QuerySet[AgencyPage], *, nested: bool) -> list[Any]:
    loaded = _plain(agencies)
    if nested:
        _agencies_attach(loaded)
    return loaded
