"""The one query model every search backend answers, parsed from (and written back to) a URL.

``/search/?q=food+bank&near=95501&radius=10&category=food-insecurity&language=es&open_now=1``
becomes a ``SearchQuery``; every bad parameter becomes a message for the person searching, never
an error page. ``SearchQuery.to_params()`` gives the parameters back, so every search has a URL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from django.utils.translation import gettext as _

from cms.categories import SDOH_CATEGORIES
from cms.languages import language_code
from directory.geocoding import GeocodeResult, GeocodingError, geocode, parse_lat_lng

Sort = Literal["relevance", "distance"]
SORTS: tuple[Sort, ...] = ("relevance", "distance")
CATEGORY_CODES = frozenset(code for code, _display in SDOH_CATEGORIES)
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
MAX_TEXT = 200
DEFAULT_RADIUS_MILES = 10.0
MAX_RADIUS_MILES = 250.0
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 50
MAX_PAGE = 500
TRUE_VALUES = {"1", "true", "on", "yes"}


@dataclass(frozen=True)
class Near:
    """Where to search around: a point and how the person named it."""

    latitude: float
    longitude: float
    label: str  # what was typed (a ZIP, an address or "lat,lng"), shown back and kept in URLs


@dataclass(frozen=True)
class SearchQuery:
    """A search within one network. Empty filters mean "any"."""

    text: str = ""
    near: Near | None = None
    radius_miles: float | None = None
    categories: tuple[str, ...] = ()
    service_types: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    open_now: bool = False
    open_at: datetime | None = None  # when open_now: the instant to check (the request's now)
    open_at_label: str = ""  # "open at a given time": the local time asked for, kept in URLs
    free_only: bool = False
    accepting_only: bool = False
    client_age: int | None = None
    sort: Sort = "relevance"
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    @property
    def is_empty(self) -> bool:
        """No words and no filters: the page shows the search form, not every service."""
        return not (
            self.text
            or self.near
            or self.categories
            or self.service_types
            or self.languages
            or self.open_now
            or self.free_only
            or self.accepting_only
            or self.client_age is not None
        )

    def with_page(self, page: int) -> SearchQuery:
        return replace(self, page=page)

    def to_params(self) -> list[tuple[str, str]]:
        """URL parameters that parse back to this query (page 1 and defaults are left out)."""
        params: list[tuple[str, str]] = []
        if self.text:
            params.append(("q", self.text))
        if self.near is not None:
            params.append(("near", self.near.label))
            if self.radius_miles is not None and self.radius_miles != DEFAULT_RADIUS_MILES:
                params.append(("radius", _number(self.radius_miles)))
        params += [("category", code) for code in self.categories]
        params += [("type", code) for code in self.service_types]
        params += [("language", code) for code in self.languages]
        if self.open_at_label:
            params.append(("open_at", self.open_at_label))
        elif self.open_now:
            params.append(("open_now", "1"))
        if self.free_only:
            params.append(("free", "1"))
        if self.accepting_only:
            params.append(("accepting", "1"))
        if self.client_age is not None:
            params.append(("age", str(self.client_age)))
        if self.sort != "relevance":
            params.append(("sort", self.sort))
        if self.page_size != DEFAULT_PAGE_SIZE:
            params.append(("page_size", str(self.page_size)))
        if self.page != 1:
            params.append(("page", str(self.page)))
        return params


@dataclass
class ParsedQuery:
    """The query, and a message for each parameter that could not be used (by parameter)."""

    query: SearchQuery
    errors: dict[str, str] = field(default_factory=dict)


Geocode = Callable[[str], GeocodeResult | None]


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _raw(params: Mapping[str, Any], name: str) -> list[str]:
    """Every non-blank value of a parameter (a QueryDict's list, a list, or one value)."""
    getlist = getattr(params, "getlist", None)
    if getlist is not None:
        items = list(getlist(name))
    else:
        value = params.get(name)
        items = (
            list(value) if isinstance(value, list | tuple) else ([] if value is None else [value])
        )
    return [str(item).strip() for item in items if str(item).strip()]


def _values(params: Mapping[str, Any], name: str) -> list[str]:
    """Values of a list parameter; ``language=en,es`` and ``language=en&language=es`` agree."""
    return [part.strip() for item in _raw(params, name) for part in item.split(",") if part.strip()]


def _first(params: Mapping[str, Any], name: str) -> str:
    """The first value of a single-valued parameter, whole (addresses contain commas)."""
    raw = _raw(params, name)
    return raw[0] if raw else ""


def _flag(params: Mapping[str, Any], name: str) -> bool:
    return _first(params, name).lower() in TRUE_VALUES


def parse_search(
    params: Mapping[str, Any],
    *,
    now: datetime,
    service_type_codes: Sequence[str] = (),
    geocoder: Geocode | None = None,
    tz: tzinfo = UTC,
) -> ParsedQuery:
    """Read a search from URL parameters; unusable parameters are dropped with a message.

    ``service_type_codes`` are the network's service-type codes; ``geocoder`` places ``near``
    (the configured geocoder by default); ``tz`` is the network's time zone, in which
    ``open_at=2026-11-24T18:30`` is read.
    """
    errors: dict[str, str] = {}
    text = " ".join(_first(params, "q").split())
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT]
        errors["q"] = _("Only the first %(n)s characters of the search were used.") % {
            "n": MAX_TEXT
        }

    near = _near(_first(params, "near"), geocoder or geocode, errors)
    radius: float | None = None
    radius_text = _first(params, "radius")
    if near is not None:
        radius = DEFAULT_RADIUS_MILES
        if radius_text:
            try:
                radius = float(radius_text)
                if not 0 < radius <= MAX_RADIUS_MILES or radius != radius:
                    raise ValueError
            except ValueError:
                radius = DEFAULT_RADIUS_MILES
                errors["radius"] = _(
                    "The distance must be a number of miles from 1 to "
                    "%(max)s; %(default)s miles was used."
                ) % {"max": int(MAX_RADIUS_MILES), "default": int(DEFAULT_RADIUS_MILES)}
    elif radius_text:
        errors["radius"] = _("A distance needs a place to measure from.")

    categories = _known(
        _values(params, "category"),
        CATEGORY_CODES,
        "category",
        errors,
        _("Unknown category: %(values)s."),
    )
    service_types = _known(
        _values(params, "type"),
        frozenset(service_type_codes),
        "type",
        errors,
        _("Unknown service type: %(values)s."),
    )
    languages = _languages(_values(params, "language"), errors)

    age: int | None = None
    age_text = _first(params, "age")
    if age_text:
        if age_text.isdigit() and int(age_text) <= 130:
            age = int(age_text)
        else:
            errors["age"] = _("The age must be a whole number of years.")

    sort: Sort = "relevance"
    sort_text = _first(params, "sort").lower()
    if sort_text == "distance":
        if near is None:
            errors["sort"] = _("Sorting by distance needs a place; results are by relevance.")
        else:
            sort = "distance"
    elif sort_text and sort_text not in SORTS:
        errors["sort"] = _("Results can be sorted by relevance or distance.")

    page = _bounded_int(_first(params, "page"), 1, MAX_PAGE, 1, "page", errors)
    page_size = _bounded_int(
        _first(params, "page_size"), 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE, "page_size", errors
    )
    open_now = _flag(params, "open_now")
    open_at: datetime | None = now if open_now else None
    open_at_label = _first(params, "open_at")[:20]
    if open_at_label:
        try:
            chosen = datetime.fromisoformat(open_at_label)
            # Aware, or at the calendar's ends (no day can be added), it cannot be used.
            if chosen.tzinfo is not None or not 1900 <= chosen.year <= 2999:
                raise ValueError
            open_at, open_now = chosen.replace(tzinfo=tz), True
        except ValueError:
            errors["open_at"] = _(
                "The time must look like 2026-11-24T18:30 (local time); it was not used."
            )
            open_at_label = ""
    query = SearchQuery(
        text=text,
        near=near,
        radius_miles=radius,
        categories=categories,
        service_types=service_types,
        languages=languages,
        open_now=open_now,
        open_at=open_at,
        open_at_label=open_at_label,
        free_only=_flag(params, "free"),
        accepting_only=_flag(params, "accepting"),
        client_age=age,
        sort=sort,
        page=page,
        page_size=page_size,
    )
    return ParsedQuery(query, errors)


def _near(text: str, geocoder: Geocode, errors: dict[str, str]) -> Near | None:
    if not text:
        return None
    text = text[:MAX_TEXT]
    point = parse_lat_lng(text)
    if point is not None:
        return Near(latitude=point[0], longitude=point[1], label=text)
    try:
        result = geocoder(text)
    except GeocodingError:
        errors["near"] = _(
            "Places cannot be looked up right now; search without a place or try again shortly."
        )
        return None
    if result is None:
        errors["near"] = _("We could not find “%(place)s”. Try a ZIP code.") % {"place": text}
        return None
    return Near(latitude=result.latitude, longitude=result.longitude, label=text)


def _languages(values: list[str], errors: dict[str, str]) -> tuple[str, ...]:
    """Language codes from codes or names ("es", "spa", "Spanish", "español", "hmong")."""
    good: list[str] = []
    bad: list[str] = []
    for value in values[:20]:
        code = language_code(value[:60])
        if code is None or not LANGUAGE_CODE.match(code):
            if value not in bad:
                bad.append(value)
        elif code not in good:
            good.append(code)
    if bad:
        errors["language"] = _(
            "Not a language we know: %(values)s. Try a name or a code, e.g. Spanish or es."
        ) % {"values": ", ".join(bad[:5])}
    return tuple(sorted(good))


def _known(
    values: list[str],
    allowed: frozenset[str],
    name: str,
    errors: dict[str, str],
    message: str,
) -> tuple[str, ...]:
    good: list[str] = []
    bad: list[str] = []
    for value in values:
        target = good if value in allowed else bad
        if value not in target:
            target.append(value)
    if bad:
        errors[name] = message % {"values": ", ".join(bad[:5])}
    return tuple(sorted(good))


def _bounded_int(
    text: str, low: int, high: int, default: int, name: str, errors: dict[str, str]
) -> int:
    if not text:
        return default
    if text.isdigit() and low <= int(text) <= high:
        return int(text)
    errors[name] = _("%(name)s must be a whole number from %(low)s to %(high)s.") % {
        "name": name.replace("_", " ").capitalize(),
        "low": low,
        "high": high,
    }
    return default
