"""What the index holds for a service: built from published pages in a fixed number of queries.

``documents_build(service_ids)`` reads a batch of services with everything a hit shows and every
backend filters on, and returns unsaved rows. Only live, active (or temporarily closed) services
of live agencies are searchable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Prefetch
from wagtail.models import Page

from directory.models import (
    AgencyPage,
    CapacityStatus,
    ListingVerification,
    Location,
    ServiceAtLocation,
    ServicePage,
    ServiceStatus,
    TaxonomyTerm,
)
from directory.selectors import network_roots
from network.models import Network

from .models import SearchDocument, TagKind
from .text import words

SEARCHABLE_STATUSES = (ServiceStatus.ACTIVE, ServiceStatus.TEMPORARILY_CLOSED)
MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
MAX_BODY = 20_000


@dataclass
class BuiltDocument:
    """An unsaved document with its child rows (tags, openings, closures)."""

    document: SearchDocument
    tags: list[tuple[str, str]] = field(default_factory=list)
    openings: list[tuple[int, int, int]] = field(default_factory=list)
    closures: list[tuple[date, date]] = field(default_factory=list)


def weekly_intervals(weekday: int, opens: str, closes: str) -> list[tuple[int, int, int]]:
    """Minutes-of-week intervals of one weekly opening, as ``directory.hours`` reads it.

    Closing at or before opening runs past midnight; the same time means a full day; 23:59
    means until midnight. Past Sunday midnight the interval wraps to Monday.
    """
    open_at, close_at = _minutes(opens), _minutes(closes)
    if close_at == open_at:  # the same time: a full day
        length = MINUTES_PER_DAY
    elif close_at == MINUTES_PER_DAY - 1 and open_at < close_at:  # 23:59: until midnight
        length = MINUTES_PER_DAY - open_at
    elif close_at < open_at:  # past midnight
        length = close_at + MINUTES_PER_DAY - open_at
    else:
        length = close_at - open_at
    start = weekday * MINUTES_PER_DAY + open_at
    end = start + length
    if end <= MINUTES_PER_WEEK:
        return [(weekday, start, end)]
    return [(weekday, start, MINUTES_PER_WEEK), (weekday, 0, end - MINUTES_PER_WEEK)]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")[:2]
    return int(hours) * 60 + int(minutes)


def documents_build(service_ids: Iterable[int]) -> tuple[list[BuiltDocument], set[int]]:
    """Documents of these services, and the ids among them that are searchable at all."""
    ids = list(service_ids)
    services = list(
        ServicePage.objects.filter(pk__in=ids, live=True, status__in=SEARCHABLE_STATUSES)
        .select_related("capacity")
        .prefetch_related(
            "categories",
            "service_types",
            "hours",
            "closures",
            "phones",
            Prefetch(
                "service_locations",
                queryset=ServiceAtLocation.objects.select_related("location__point").order_by(
                    "sort_order", "pk"
                ),
            ),
        )
    )
    if not services:
        return [], set()
    agencies = {
        a.path: a
        for a in AgencyPage.objects.filter(
            path__in={s.path[: -Page.steplen] for s in services}, live=True
        )
        .select_related("organization")
        .prefetch_related("phones")
    }
    page_ids = [s.pk for s in services] + [a.pk for a in agencies.values()]
    verified = dict(
        ListingVerification.objects.filter(page_id__in=page_ids).values_list(
            "page_id", "last_verified_at"
        )
    )
    roots = network_roots()
    terms = _term_ancestry({n.pk for n, _root in roots.values()})
    built: list[BuiltDocument] = []
    searchable: set[int] = set()
    for service in services:
        agency = agencies.get(service.path[: -Page.steplen])
        found = roots.get(service.path[: Page.steplen * 2])
        if agency is None or found is None:
            continue
        if agency.organization is not None and not agency.organization.is_active:
            continue
        network, root = found
        searchable.add(service.pk)
        sites = list(service.service_locations.all()) or [None]
        for site in sites:
            built.append(
                _document(
                    service, agency, site.location if site else None, network, root, terms, verified
                )
            )
    return built, searchable


def _term_ancestry(network_ids: set[int]) -> dict[int, list[str]]:
    """Each service type's code with its ancestors' codes: a search for a parent finds it."""
    rows = {
        pk: (code, parent)
        for pk, code, parent in TaxonomyTerm.objects.filter(network__in=network_ids).values_list(
            "pk", "code", "parent_id"
        )
    }
    result: dict[int, list[str]] = {}
    for pk in rows:
        codes, seen, current = [], set(), pk
        while current is not None and current in rows and current not in seen:
            seen.add(current)
            codes.append(rows[current][0])
            current = rows[current][1]
        result[pk] = codes
    return result


def _document(
    service: ServicePage,
    agency: AgencyPage,
    location: Location | None,
    network: Network,
    root: Page,
    terms: dict[int, list[str]],
    verified: Mapping[int, datetime | None],
) -> BuiltDocument:
    categories = sorted({c.code for c in service.categories.all()})
    category_names = [c.display for c in service.categories.all()]
    type_codes = sorted({code for t in service.service_types.all() for code in terms.get(t.pk, [])})
    type_names = [t.name for t in service.service_types.all()]
    languages = sorted(
        {code.lower() for code in [*service.languages, *(location.languages if location else [])]}
    )
    hours = sorted(
        [h.weekday, f"{h.opens_at:%H:%M}", f"{h.closes_at:%H:%M}"]
        for h in service.hours.all()
        if h.location_id is None or (location is not None and h.location_id == location.pk)
    )
    closures = sorted((c.start_date, c.end_date) for c in service.closures.all())
    capacity = getattr(service, "capacity", None)
    capacity_status = capacity.status if capacity is not None else CapacityStatus.ACCEPTING
    # A confidential address (a shelter) is never indexed: no street, ZIP or map point.
    hidden = location is not None and location.address_confidential
    point = getattr(location, "point", None) if location is not None and not hidden else None
    latitude = point.latitude if point is not None else None
    longitude = point.longitude if point is not None else None
    names = " ".join(
        filter(
            None,
            [
                service.title,
                service.alternate_name,
                agency.title,
                agency.alternate_name,
                *category_names,
                *type_names,
            ],
        )
    )
    body = " ".join(
        filter(
            None,
            [
                service.description,
                service.eligibility_description,
                service.application_process,
                service.fees_description,
                service.interpretation_services,
                agency.description,
                location.name if location else "",
                location.city if location else "",
                location.postal_code if location and not hidden else "",
            ],
        )
    )[:MAX_BODY]
    root_url = root.url_path
    document = SearchDocument(
        key=f"{service.pk}:{location.pk if location else 0}",
        network=network,
        service=service,
        agency=agency,
        location=location,
        service_name=service.title[:255],
        agency_name=agency.title[:255],
        location_name=location.name if location else "",
        address=location.public_address_line[:400] if location else "",
        city=location.city if location else "",
        postal_code=location.postal_code if location and not hidden else "",
        url="/" + service.url_path[len(root_url) :]
        if service.url_path.startswith(root_url)
        else "",
        description=service.description,
        alert=service.alert,
        status=service.status,
        names=names,
        body=body,
        latitude=latitude,
        longitude=longitude,
        fee_type=service.fee_type,
        capacity=capacity_status,
        referral_method=service.referral_method,
        phone=_phone(service, agency, location),
        minimum_age=service.minimum_age,
        maximum_age=service.maximum_age,
        verified_at=verified.get(service.pk) or verified.get(agency.pk),
        categories=categories,
        service_types=type_codes,
        languages=languages,
        hours=hours,
        closures=[[s.isoformat(), e.isoformat()] for s, e in closures],
    )
    tags = [
        *((TagKind.CATEGORY, c) for c in categories),
        *((TagKind.TYPE, t) for t in type_codes),
        *((TagKind.LANGUAGE, lang) for lang in languages),
        (TagKind.FEE, service.fee_type),
        (TagKind.CAPACITY, capacity_status),
    ]
    openings = sorted(
        {interval for w, opens, closes in hours for interval in weekly_intervals(w, opens, closes)}
    )
    return BuiltDocument(document, [(str(k), v) for k, v in tags], openings, closures)


def _phone(service: ServicePage, agency: AgencyPage, location: Location | None) -> str:
    for phone in service.phones.all():
        return str(phone)
    agency_phones = list(agency.phones.all())
    for phone in agency_phones:
        if location is not None and phone.location_id == location.pk:
            return str(phone)
    for phone in agency_phones:
        if phone.location_id is None:
            return str(phone)
    organization = agency.organization
    return organization.phone if organization is not None else ""


def vocabulary(documents: Iterable[BuiltDocument]) -> dict[int, set[str]]:
    """The words of these documents per network, for correcting misspelt queries."""
    texts: dict[int, set[str]] = defaultdict(set)
    for built in documents:  # a service at several places repeats most of its text
        texts[built.document.network_id].update((built.document.names, built.document.body))
    return {
        network_id: {
            w for text in found for w in words(text) if 3 <= len(w) <= 64 and not w.isdigit()
        }
        for network_id, found in texts.items()
    }
