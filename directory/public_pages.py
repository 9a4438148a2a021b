"""What the public directory pages show: the network's agencies A to Z, browsable by need; an
agency's page; a service's page with its phones, places, ordered hours and whether it is open
now (in the network's time zone).

A location whose address is confidential shows only its town and no map point, except to
signed-in staff of the network (``directory.visibility``).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

from django.db.models import Count, Prefetch
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from wagtail.models import Page

from network.models import Network

from .models import (
    AgencyPage,
    FeedListing,
    HsdsFeed,
    Location,
    Phone,
    SdohCategory,
    ServicePage,
    ServiceStatus,
)
from .models.locations import WEEKDAY_CHOICES
from .models.services import service_open_status
from .tenancy import page_network
from .visibility import sees_confidential_addresses

if TYPE_CHECKING:
    from .hours import OpenStatus
    from .models import DirectoryIndexPage

NEED_PARAM = "need"
# The services the directory lists: those people can use now or again soon (as search does).
LISTED_STATUSES = (ServiceStatus.ACTIVE, ServiceStatus.TEMPORARILY_CLOSED)
# Where "Back to search" may lead: the public search and the staff search, with their query.
SEARCH_PATHS = ("/search/", "/workspace/search/")
MAX_BACK_LENGTH = 2000
OTHER_LETTER = "#"


# --- the directory index -------------------------------------------------------------------------


@dataclass
class AgencyEntry:
    """An agency of the index with the services listed under it (all, or those for the need)."""

    agency: AgencyPage
    services: list[ServicePage]


@dataclass
class LetterGroup:
    letter: str
    entries: list[AgencyEntry] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "letter-other" if self.letter == OTHER_LETTER else f"letter-{self.letter}"


def index_letter(title: str) -> str:
    """The letter an agency is filed under: its first letter without accents, else ``#``."""
    for char in unicodedata.normalize("NFKD", title.strip()):
        if unicodedata.combining(char):
            continue
        upper = char.upper()
        return upper if "A" <= upper <= "Z" else OTHER_LETTER
    return OTHER_LETTER


def _sort_key(title: str) -> tuple[bool, str]:
    letter = index_letter(title)
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", title.casefold()) if not unicodedata.combining(c)
    )
    return (letter == OTHER_LETTER, folded)


def index_context(*, page: DirectoryIndexPage, request: HttpRequest) -> dict[str, Any]:
    """The agencies of this directory A to Z, each with its services, optionally for one need.

    A fixed number of queries, whatever the number of agencies and services. An unknown need
    gives ``need_error`` (the page answers 400) and the whole directory.
    """
    asked = request.GET.get(NEED_PARAM, "").strip()[:64]
    need: SdohCategory | None = None
    need_error = ""
    if asked:
        need = SdohCategory.objects.filter(code=asked).first()
        if need is None:
            need_error = _("There is no need called “%(need)s”. Choose one from the list.") % {
                "need": asked
            }
    listed = (
        ServicePage.objects.descendant_of(page).live().public().filter(status__in=LISTED_STATUSES)
    )
    needs = list(
        SdohCategory.objects.filter(services__in=listed.values("pk"))
        .annotate(service_count=Count("services", distinct=True))
        .order_by("sort_order", "display")
    )
    services = listed.filter(categories=need) if need is not None else listed
    by_agency: dict[str, list[ServicePage]] = defaultdict(list)
    for service in services.order_by("title", "pk"):
        by_agency[service.path[: -Page.steplen]].append(service)
    agencies = AgencyPage.objects.child_of(page).live().public()
    entries = [
        AgencyEntry(agency, by_agency.get(agency.path, []))
        for agency in agencies
        if need is None or agency.path in by_agency
    ]
    entries.sort(key=lambda e: _sort_key(e.agency.title))
    groups: dict[str, LetterGroup] = {}
    for entry in entries:
        letter = index_letter(entry.agency.title)
        groups.setdefault(letter, LetterGroup(letter)).entries.append(entry)
    return {
        "needs": needs,
        "need": need,
        "need_param": NEED_PARAM,
        "need_error": need_error,
        "groups": list(groups.values()),
        "agency_count": len(entries),
    }


# --- "Back to search" ------------------------------------------------------------------------


def _search_url(url: str) -> str:
    """``url``'s path and query when it is one of the search pages, else ""."""
    parts = urlsplit(url)
    if parts.path not in SEARCH_PATHS:
        return ""
    query = urlencode(parse_qsl(parts.query, keep_blank_values=False))
    return f"{parts.path}?{query}" if query else parts.path


def back_to_search_url(request: HttpRequest) -> str:
    """Where "Back to search" leads: the search the person came from, with its query.

    From a ``back`` parameter that names a local search URL, else from a same-site referrer
    that is a search page, else the plain public search. Never another site.
    """
    back = request.GET.get("back", "")[:MAX_BACK_LENGTH]
    if back.startswith("/") and not back.startswith("//") and "\\" not in back:
        parts = urlsplit(back)
        if not parts.scheme and not parts.netloc and (found := _search_url(back)):
            return found
    referrer = request.META.get("HTTP_REFERER", "")[:MAX_BACK_LENGTH]
    if (
        referrer
        and url_has_allowed_host_and_scheme(
            referrer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and (found := _search_url(referrer))
    ):
        return found
    return reverse("search:public")


# --- places, phones and hours ----------------------------------------------------------------


@dataclass
class Place:
    """A location as the person asking may see it."""

    location: Location
    address: str
    confidential: bool  # the address is confidential and hidden from this person
    latitude: float | None = None
    longitude: float | None = None

    @property
    def map_url(self) -> str:
        if self.latitude is None or self.longitude is None:
            return ""
        lat, lng = f"{self.latitude:.5f}", f"{self.longitude:.5f}"
        return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lng}#map=16/{lat}/{lng}"


def place_for(location: Location, *, staff: bool) -> Place:
    """What of ``location`` to show: everything to staff; no street or map point to the public
    when its address is confidential."""
    if location.address_confidential and not staff:
        return Place(location, location.public_address_line, confidential=True)
    point = getattr(location, "point", None)
    lat: float | Decimal | None = None
    lng: float | Decimal | None = None
    if point is not None and point.latitude is not None and point.longitude is not None:
        lat, lng = point.latitude, point.longitude
    elif location.latitude is not None and location.longitude is not None:
        lat, lng = location.latitude, location.longitude
    return Place(
        location,
        location.address_line,
        confidential=False,
        latitude=float(lat) if lat is not None else None,
        longitude=float(lng) if lng is not None else None,
    )


def _clock(value: datetime) -> str:
    return time_format(value, "TIME_FORMAT")


def open_status_label(status: OpenStatus | None, tz_now: datetime) -> str:
    """The open-now badge, in the network's times: "Open now, until 17:00" or "Closed now,
    opens Tuesday at 09:00"."""
    if status is None:
        return ""
    if status.is_open:
        if status.closes_at is None:
            return _("Open now")
        if status.closes_at.date() == tz_now.date():
            return _("Open now, until %(time)s") % {"time": _clock(status.closes_at)}
        day = dict(WEEKDAY_CHOICES)[status.closes_at.weekday()]
        return _("Open now, until %(day)s at %(time)s") % {
            "day": day,
            "time": _clock(status.closes_at),
        }
    if status.next_opens_at is None:
        return _("Closed now")
    if status.next_opens_at.date() == tz_now.date():
        return _("Closed now, opens today at %(time)s") % {"time": _clock(status.next_opens_at)}
    day = dict(WEEKDAY_CHOICES)[status.next_opens_at.weekday()]
    return _("Closed now, opens %(day)s at %(time)s") % {
        "day": day,
        "time": _clock(status.next_opens_at),
    }


def listing_source_feed(*, page: Page) -> HsdsFeed | None:
    """The feed a listing comes from (shown on its page), if it comes from one."""
    mark = FeedListing.objects.filter(page_id=page.pk).select_related("feed").first()
    return mark.feed if mark is not None else None


def service_context(
    *, page: ServicePage, request: HttpRequest, network: Network | None
) -> dict[str, Any]:
    """Everything the public service page shows, in a fixed number of queries."""
    staff = sees_confidential_addresses(request=request, network=network)
    agency = (
        AgencyPage.objects.filter(path=page.path[: -Page.steplen])
        .prefetch_related(Prefetch("phones", queryset=Phone.objects.order_by("sort_order", "pk")))
        .first()
    )
    sites = list(page.service_locations.select_related("location__point"))
    hours = sorted(
        page.hours.select_related("location"),
        key=lambda h: (h.weekday, h.opens_at, h.closes_at, h.sort_order or 0, h.pk or 0),
    )
    phones: list[Any] = list(page.phones.all())
    if not phones and agency is not None:
        here = {site.location_id for site in sites}
        agency_phones = list(agency.phones.all())
        phones = [p for p in agency_phones if p.location_id in here] or [
            p for p in agency_phones if p.location_id is None
        ]
    status = None
    label = ""
    if network is not None and hours:
        now = timezone.now()
        status = service_open_status(service=page, network=network, at=now)
        label = open_status_label(status, now.astimezone(ZoneInfo(network.time_zone)))
    return {
        "agency": agency,
        "sites": sites,
        "places": [place_for(site.location, staff=staff) for site in sites],
        "hours": hours,
        "phones": phones,
        "capacity": getattr(page, "capacity", None),
        "open_status": status,
        "open_label": label,
        "back_url": back_to_search_url(request),
        "sees_confidential": staff,
        "source_feed": listing_source_feed(page=page),
    }


def agency_context(*, page: AgencyPage, request: HttpRequest) -> dict[str, Any]:
    """The agency page's services and places (confidential addresses hidden from the public)."""
    network = page_network(page=page)
    staff = sees_confidential_addresses(request=request, network=network)
    services = list(
        ServicePage.objects.child_of(page)
        .live()
        .public()
        .filter(status__in=LISTED_STATUSES)
        .order_by("title", "pk")
    )
    locations = list(page.locations.select_related("point"))
    return {
        "services": services,
        "places": [place_for(location, staff=staff) for location in locations],
        "back_url": back_to_search_url(request),
        "sees_confidential": staff,
        "source_feed": listing_source_feed(page=page),
    }
