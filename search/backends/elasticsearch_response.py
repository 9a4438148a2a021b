"""Elasticsearch responses read back: a page of ``SearchResults``, and suggestions.

Every hit is built from its ``_source`` (no database query); facet labels for service types
come from ``type_names``, which the caller looks up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation
from django.utils.safestring import SafeString, mark_safe

from cms.categories import NEED_LABELS, SDOH_CATEGORIES, need_label
from directory.geocoding import distance_miles
from directory.models import CapacityStatus, FeeType
from network.models import Network

from .. import results as search_results
from ..models import SearchDocument
from ..query import SearchQuery
from ..results import FacetValue, SearchHit, SearchResults, facet_label, hit_from_document
from . import base
from .elasticsearch_mapping import document_from_source
from .elasticsearch_query import DID_YOU_MEAN, SUGGESTION

BACKEND_NAME = "elasticsearch"  # the backend's name, as its results report it


@lru_cache(maxsize=1)
def category_codes_by_name() -> dict[str, str]:
    """Need code by any name the index may hold for it: the plain name in every interface
    language, or the code system's display (indexes built before the plain names)."""
    names = {name: code for code, name in SDOH_CATEGORIES}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            names.update({str(label): code for code, label in NEED_LABELS.items()})
    return names


def _distance(query: SearchQuery, hit: Mapping[str, Any], doc: SearchDocument) -> float | None:
    if query.near is None:
        return None
    sort_values = hit.get("sort") or []
    if query.sort == "distance" and sort_values:
        value = float(sort_values[0])
        return value if math.isfinite(value) else None
    if doc.latitude is None or doc.longitude is None:
        return None
    return distance_miles(
        (query.near.latitude, query.near.longitude), (doc.latitude, doc.longitude)
    )


def _highlights(hit: Mapping[str, Any]) -> dict[str, SafeString]:
    # With encoder "html" Elasticsearch escapes the text and adds only the <mark> tags.
    return {
        field: mark_safe(" … ".join(fragments))  # noqa: S308 - escaped by Elasticsearch
        for field, fragments in (hit.get("highlight") or {}).items()
        if fragments
    }


def _selected(kind: str, value: str, query: SearchQuery) -> bool:
    if kind == "category":
        return value in query.categories
    if kind == "type":
        return value in query.service_types
    if kind == "language":
        return value in query.languages
    if kind == "fee":
        return query.free_only and value == FeeType.FREE.value
    if kind == "capacity":
        return query.accepting_only and value == CapacityStatus.ACCEPTING.value
    return False


def facet_buckets(body: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    aggregations = body.get("aggregations") or {}
    buckets: list[Mapping[str, Any]] = (aggregations.get(kind) or {}).get("buckets") or []
    return buckets


def results_from_response(
    body: Mapping[str, Any],
    query: SearchQuery,
    *,
    network: Network,
    now: datetime,
    type_names: Mapping[str, str],
    took_ms: float = 0.0,
) -> SearchResults:
    """A page of results from a search response's body."""
    tz = ZoneInfo(network.time_zone)
    stale_before = search_results.stale_cutoff(now, network.verification_interval_days)
    hits: list[SearchHit] = []
    for hit in body["hits"]["hits"]:
        doc = document_from_source(hit["_source"])
        hits.append(
            hit_from_document(
                doc,
                distance=_distance(query, hit, doc),
                score=float(hit.get("_score") or 0.0),
                now=now,
                tz=tz,
                stale_before=stale_before,
                highlights=_highlights(hit),
            )
        )
    total = body["hits"]["total"]
    facets = {
        kind: [
            FacetValue(
                value=str(bucket["key"]),
                label=facet_label(kind, str(bucket["key"]), dict(type_names)),
                count=int(bucket["doc_count"]),
                selected=_selected(kind, str(bucket["key"]), query),
            )
            for bucket in facet_buckets(body, kind)
        ]
        for kind in search_results.FACET_KINDS
    }
    return SearchResults(
        query=query,
        hits=hits,
        total=int(total["value"] if isinstance(total, Mapping) else total),
        facets=facets,
        backend=BACKEND_NAME,
        took_ms=took_ms,
        did_you_mean=did_you_mean_from_response(body, query),
    )


def did_you_mean_from_response(body: Mapping[str, Any], query: SearchQuery) -> str:
    """The phrase suggester's best correction that finds services in the network (collated),
    if it differs from what was typed."""
    for entry in (body.get("suggest") or {}).get(DID_YOU_MEAN) or []:
        for option in entry.get("options") or []:
            text = str(option.get("text") or "")
            if option.get("collate_match", True) and text and text != query.text.casefold():
                return text
    return ""


def suggestions_from_response(body: Mapping[str, Any]) -> list[base.Suggestion]:
    """Suggestions in the order Elasticsearch ranked them, each once."""
    found: list[base.Suggestion] = []
    seen: set[tuple[str, str]] = set()
    for entry in (body.get("suggest") or {}).get(SUGGESTION) or []:
        for option in entry.get("options") or []:
            text = str(option["text"])
            code = category_codes_by_name().get(text)
            suggestion = (
                base.Suggestion(label=need_label(code), kind="category", value=code)
                if code is not None
                else base.Suggestion(label=text, kind="service", value=text)
            )
            if (suggestion.kind, suggestion.value) not in seen:
                seen.add((suggestion.kind, suggestion.value))
                found.append(suggestion)
    return found
