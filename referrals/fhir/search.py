"""FHIR search parameters, read and checked (a bad value is a 400 naming the parameter), and
paging (``_count``, at most ``MAX_COUNT``; ``_offset`` in the ``next`` link)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar
from urllib.parse import urlencode

from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, QueryDict
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from .base import fhir_error

T = TypeVar("T")
M = TypeVar("M", bound=Model)

DEFAULT_COUNT = 50
MAX_COUNT = 100
MAX_OFFSET = 1_000_000
_ID = re.compile(r"^\d{1,18}$")
# FHIR's comparison prefixes of a date search, as Django lookups.
_PREFIXES = {"eq": "", "gt": "gt", "ge": "gte", "lt": "lt", "le": "lte"}


def _values(query: QueryDict, name: str) -> list[str]:
    """Every value of ``name`` (repeated or comma-separated), stripped, none empty."""
    return [v.strip() for raw in query.getlist(name) for v in raw.split(",") if v.strip()]


def tokens_param(query: QueryDict, name: str) -> list[str]:
    """A token parameter's codes (``system|code`` kept whole when a system is given)."""
    return [v[1:] if v.startswith("|") else v for v in _values(query, name)]


def ids_param(query: QueryDict, name: str) -> list[int]:
    """Numeric ids (``_id=1,2``); a value that cannot be an id here is a 400."""
    ids = []
    for value in _values(query, name):
        if not _ID.match(value):
            raise fhir_error(
                400, "invalid", _("Not an id here: %(value)s.") % {"value": value[:40]}, name
            )
        ids.append(int(value))
    return ids


def reference_param(query: QueryDict, name: str, resource_type: str) -> int | None:
    """A reference parameter (``Organization/12``, an absolute URL to it, or ``12``): the
    numeric id, or None when absent; 400 when it is not a reference to ``resource_type``."""
    found = _reference_value(query, name, resource_type, numeric=True)
    return int(found) if found is not None else None


def reference_text_param(query: QueryDict, name: str, resource_type: str) -> str | None:
    """A reference parameter whose ids are not all numbers (``ServiceRequest/sr-3``)."""
    return _reference_value(query, name, resource_type, numeric=False)


def _reference_value(
    query: QueryDict, name: str, resource_type: str, *, numeric: bool
) -> str | None:
    values = _values(query, name)
    if not values:
        return None
    if len(values) > 1:
        raise fhir_error(400, "invalid", _("One value only."), name)
    value = values[0]
    pattern = r"(?:^|/)" + resource_type + r"/([A-Za-z0-9\-.]{1,64})$"
    match = re.search(pattern, value) or re.fullmatch(r"([A-Za-z0-9\-.]{1,64})", value)
    if match is None or (numeric and not _ID.match(match.group(1))):
        raise fhir_error(
            400,
            "invalid",
            _("%(name)s takes a reference to a %(type)s, e.g. %(type)s/12.")
            % {"name": name, "type": resource_type},
            name,
        )
    return match.group(1)


def _instant(value: str) -> datetime | None:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            return None
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def instants_filter(query: QueryDict, name: str, field: str) -> Q:
    """A date parameter (``_lastUpdated=gt2026-11-24T10:00:00Z``, repeatable: AND) as a filter
    on ``field``; 400 for a prefix or an instant this server does not read."""
    condition = Q()
    for raw in query.getlist(name):
        value = raw.strip()
        prefix = value[:2] if value[:2].isalpha() else "eq"
        text = value[2:] if value[:2].isalpha() else value
        moment = _instant(text) if prefix in _PREFIXES else None
        if moment is None:
            raise fhir_error(
                400,
                "invalid",
                _("%(name)s takes gt, ge, lt, le or eq and an instant, e.g. %(example)s.")
                % {"name": name, "example": "gt2026-11-24T10:00:00Z"},
                name,
            )
        lookup = _PREFIXES[prefix]
        condition &= Q(**{f"{field}__{lookup}" if lookup else field: moment})
    return condition


@dataclass(frozen=True)
class SearchPage(Generic[T]):
    rows: list[T]
    total: int
    offset: int
    next_url: str | None


def _int_param(query: QueryDict, name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise fhir_error(
            400,
            "invalid",
            _("%(name)s is a whole number from %(low)s to %(high)s.")
            % {"name": name, "low": low, "high": high},
            name,
        )
    return int(raw)


def page_of(request: HttpRequest, rows: QuerySet[M]) -> SearchPage[M]:
    """One page of ``rows`` (already ordered): ``_count`` of them from ``_offset``, the total,
    and the next page's URL. Two queries, whatever the number of rows."""
    count = _int_param(request.GET, "_count", DEFAULT_COUNT, 0, MAX_COUNT)
    offset = _int_param(request.GET, "_offset", 0, 0, MAX_OFFSET)
    total = rows.count()
    page = list(rows[offset : offset + count]) if count and offset < total else []
    next_url = None
    if count and offset + count < total:
        query = request.GET.copy()
        query["_offset"] = str(offset + count)
        next_url = (
            request.build_absolute_uri(request.path)
            + "?"
            + urlencode(list(query.lists()), doseq=True)
        )
    return SearchPage(rows=page, total=total, offset=offset, next_url=next_url)


__all__ = [
    "DEFAULT_COUNT",
    "MAX_COUNT",
    "SearchPage",
    "ids_param",
    "instants_filter",
    "page_of",
    "reference_param",
    "reference_text_param",
    "tokens_param",
]
