"""The one result model every backend returns: hits, facet counts, total, who answered, how fast."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cms.categories import NEED_LABELS
from cms.languages import language_name
from directory.hours import Closure, OpenStatus, WeeklyHours, open_status
from directory.models import CapacityStatus, FeeType, ReferralMethod

from .models import SearchDocument
from .query import SearchQuery

CATEGORY_NAMES = NEED_LABELS
# "Answered by the … search": the built-in backend is named by a word, Elasticsearch by its name.
BACKEND_LABELS = {"database": pgettext_lazy("search backend", "database")}

FACET_KINDS = ("category", "type", "language", "fee", "capacity")
FACET_TITLES = {
    "category": _("Need"),
    "type": _("Service type"),
    "language": _("Language"),
    "fee": _("Cost"),
    "capacity": _("Taking clients"),
}
CAPACITY_RANK = {
    CapacityStatus.ACCEPTING: 1.0,
    CapacityStatus.WAITLIST: 0.8,
    CapacityStatus.NOT_ACCEPTING: 0.5,
}
STALE_RANK = 0.8
NEVER_VERIFIED_RANK = 0.7
TEMPORARILY_CLOSED_RANK = 0.5


def facet_label(kind: str, value: str, type_names: dict[str, str]) -> str:
    if kind == "category":
        return str(CATEGORY_NAMES.get(value, value))
    if kind == "type":
        return type_names.get(value, value)
    if kind == "language":
        return language_name(value)
    if kind == "fee":
        return str(dict(FeeType.choices).get(value, value))
    if kind == "capacity":
        return str(dict(CapacityStatus.choices).get(value, value))
    return value


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class SearchHit:
    """A service at one location, with what the person searching needs to decide."""

    key: str
    service_id: int
    service_name: str
    agency_id: int
    agency_name: str
    location_id: int | None
    location_name: str
    address: str
    url: str
    phone: str
    latitude: float | None
    longitude: float | None
    distance_miles: float | None
    capacity: str
    fee_type: str
    referral_method: str
    status: str
    alert: str
    categories: list[str]
    languages: list[str]
    verified_at: datetime | None
    stale: bool
    open_status: OpenStatus | None
    highlights: dict[str, SafeString] = field(default_factory=dict)
    score: float = 0.0

    @property
    def dom_id(self) -> str:
        return "hit-" + self.key.replace(":", "-")

    @property
    def agency_shown(self) -> str:
        """The agency's name under the service's, unless it is the same name again."""
        if " ".join(self.agency_name.casefold().split()) == " ".join(
            self.service_name.casefold().split()
        ):
            return ""
        return self.agency_name

    @property
    def capacity_label(self) -> str:
        return str(dict(CapacityStatus.choices).get(self.capacity, self.capacity))

    @property
    def fee_label(self) -> str:
        return str(dict(FeeType.choices).get(self.fee_type, self.fee_type))

    @property
    def category_labels(self) -> list[str]:
        return [str(CATEGORY_NAMES.get(c, c)) for c in self.categories]

    @property
    def language_labels(self) -> list[str]:
        return [language_name(c) for c in self.languages]

    @property
    def takes_electronic_referrals(self) -> bool:
        return self.referral_method == ReferralMethod.ELECTRONIC


@dataclass
class SearchResults:
    """One page of hits and what describes the whole result set."""

    query: SearchQuery
    hits: list[SearchHit]
    total: int
    facets: dict[str, list[FacetValue]]
    backend: str
    took_ms: float = 0.0
    fallback_reason: str = ""  # why another backend answered, when one did
    corrections: dict[str, str] = field(default_factory=dict)  # misspelt word → word searched
    did_you_mean: str = ""  # a search with the misspelt words corrected, offered as a link

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))

    @property
    def backend_label(self) -> str:
        """The backend as people read it (“database” is a word to translate, not a name)."""
        return str(BACKEND_LABELS.get(self.backend, self.backend))

    @property
    def has_next(self) -> bool:
        return self.query.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.query.page > 1


def hit_from_document(
    doc: SearchDocument,
    *,
    distance: float | None,
    score: float,
    now: datetime,
    tz: ZoneInfo,
    stale_before: datetime,
    highlights: dict[str, SafeString],
) -> SearchHit:
    """A hit for a document row (no query: everything shown is on the row)."""
    return SearchHit(
        key=doc.key,
        service_id=doc.service_id,
        service_name=doc.service_name,
        agency_id=doc.agency_id,
        agency_name=doc.agency_name,
        location_id=doc.location_id,
        location_name=doc.location_name,
        address=doc.address,
        url=doc.url,
        phone=doc.phone,
        latitude=doc.latitude,
        longitude=doc.longitude,
        distance_miles=distance,
        capacity=doc.capacity,
        fee_type=doc.fee_type,
        referral_method=doc.referral_method,
        status=doc.status,
        alert=doc.alert,
        categories=list(doc.categories),
        languages=list(doc.languages),
        verified_at=doc.verified_at,
        stale=doc.verified_at is None or doc.verified_at < stale_before,
        open_status=document_open_status(doc.hours, doc.closures, now=now, tz=tz),
        highlights=highlights,
        score=score,
    )


def document_open_status(
    hours: list[list[object]], closures: list[list[str]], *, now: datetime, tz: ZoneInfo
) -> OpenStatus | None:
    """Open now and the next change, by ``directory.hours``; None when no hours are listed."""
    if not hours:
        return None
    weekly = [
        WeeklyHours(
            weekday=int(str(w)),
            opens_at=time.fromisoformat(str(o)),
            closes_at=time.fromisoformat(str(c)),
        )
        for w, o, c in hours
    ]
    closed = [Closure(start=date.fromisoformat(s), end=date.fromisoformat(e)) for s, e in closures]
    return open_status(hours=weekly, closures=closed, at=now, tz=tz)


def stale_cutoff(now: datetime, interval_days: int) -> datetime:
    return now - timedelta(days=interval_days)
