"""The Elasticsearch index: its analysis and mapping, and documents as it stores them.

``build_index`` gives a concrete index (settings, analyzers, the ``ServiceDocument`` mapping);
``document_source`` is what is indexed for a ``SearchDocument`` and ``document_from_source``
reads a hit's ``_source`` back into an unsaved one; ``index_action`` and ``delete_action`` are
the bulk actions that write them. All pure: nothing here talks to a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from elasticsearch_dsl import (
    Completion,
    Date,
    DateRange,
    Document,
    Float,
    GeoPoint,
    Index,
    InnerDoc,
    Integer,
    IntegerRange,
    Keyword,
    MetaField,
    Nested,
    Object,
    Text,
    analyzer,
    token_filter,
)

from .. import results as search_results
from ..documents import weekly_intervals
from ..models import SearchDocument
from ..query import MAX_PAGE, MAX_PAGE_SIZE
from ..text import synonym_rules

DEFAULT_INDEX = "handoff-services"
SUGGEST_CONTEXT = "network"
SUGGEST_WEIGHT_CATEGORY = 3  # a need is the broader completion: listed before service names
SUGGEST_WEIGHT_SERVICE = 2

# Analysis. Documents are indexed folded and stemmed; queries are also expanded with the shared
# synonym table (synonym_graph belongs at search time only, where multi-word synonyms become
# proper phrase alternatives).
ENGLISH_STEMMER = token_filter("handoff_english_stemmer", type="stemmer", language="english")
SYNONYMS = token_filter("handoff_synonyms", type="synonym_graph", synonyms=synonym_rules())
TEXT_ANALYZER = analyzer(
    "handoff_text",
    tokenizer="standard",
    filter=["lowercase", "asciifolding", ENGLISH_STEMMER],
)
TEXT_SEARCH_ANALYZER = analyzer(
    "handoff_text_search",
    tokenizer="standard",
    filter=["lowercase", "asciifolding", SYNONYMS, ENGLISH_STEMMER],
)
SUGGEST_ANALYZER = analyzer(
    "handoff_suggest", tokenizer="standard", filter=["lowercase", "asciifolding"]
)


def _text(**kwargs: Any) -> Any:
    return Text(analyzer=TEXT_ANALYZER, search_analyzer=TEXT_SEARCH_ANALYZER, **kwargs)


def _shown() -> Any:
    """A field only shown on a hit: kept in _source, neither searchable nor aggregatable."""
    return Keyword(index=False, doc_values=False)


class OpeningDocument(InnerDoc):
    """A weekly opening: the weekday it starts on and its minutes of the week (Monday 0:00 = 0)."""

    start_weekday = Integer()
    minutes = IntegerRange()


class ServiceDocument(Document):
    """The mapping: a ``SearchDocument`` row plus what only Elasticsearch needs."""

    key = Keyword()
    network_id = Keyword()
    service_id = Integer()
    agency_id = Integer(index=False)
    location_id = Integer(index=False)
    service_name = _text()
    agency_name = _text()
    names = _text(copy_to=["text_all", "spelling"])
    body = _text(copy_to=["text_all", "spelling"])
    text_all = _text()
    spelling = Text(analyzer=SUGGEST_ANALYZER)  # unstemmed words, for "Did you mean"
    description = _text()  # not searched (body has it) but highlighted
    location_name = _shown()
    address = _shown()
    city = _shown()
    postal_code = _shown()
    url = _shown()
    alert = _shown()
    phone = _shown()
    status = Keyword()
    fee_type = Keyword()
    capacity = Keyword()
    referral_method = Keyword()
    categories = Keyword(multi=True)
    service_types = Keyword(multi=True)
    languages = Keyword(multi=True)
    latitude = Float(index=False)
    longitude = Float(index=False)
    point = GeoPoint()
    minimum_age = Integer()
    maximum_age = Integer()
    verified_at = Date()
    hours = Object(enabled=False)  # [{"weekday", "opens", "closes"}] for directory.hours
    openings = Nested(OpeningDocument)
    closures = DateRange(format="yyyy-MM-dd", multi=True)
    suggest = Completion(
        analyzer=SUGGEST_ANALYZER,
        contexts=[{"name": SUGGEST_CONTEXT, "type": "category"}],
    )

    class Meta:
        dynamic = MetaField(False)


def build_index(name: str) -> Index:
    """The concrete index ``name``: analysis settings and the mapping (``Index.to_dict()``)."""
    index = Index(name)
    index.settings(number_of_shards=1, max_result_window=MAX_PAGE * MAX_PAGE_SIZE)
    index.document(ServiceDocument)
    return index


# --- documents -----------------------------------------------------------------------------


def document_source(doc: SearchDocument) -> dict[str, Any]:
    """What is indexed for a document: every field a hit shows, and what queries read."""
    network = str(doc.network_id)
    openings = sorted(
        {
            interval
            for weekday, opens, closes in doc.hours
            for interval in weekly_intervals(int(weekday), str(opens), str(closes))
        }
    )
    suggest: list[dict[str, Any]] = [
        {
            "input": [doc.service_name],
            "weight": SUGGEST_WEIGHT_SERVICE,
            "contexts": {SUGGEST_CONTEXT: [network]},
        }
    ]
    category_names = [
        str(search_results.CATEGORY_NAMES[c])
        for c in doc.categories
        if c in search_results.CATEGORY_NAMES
    ]
    if category_names:
        suggest.append(
            {
                "input": category_names,
                "weight": SUGGEST_WEIGHT_CATEGORY,
                "contexts": {SUGGEST_CONTEXT: [network]},
            }
        )
    has_point = doc.latitude is not None and doc.longitude is not None
    return {
        "key": doc.key,
        "network_id": doc.network_id,
        "service_id": doc.service_id,
        "agency_id": doc.agency_id,
        "location_id": doc.location_id,
        "service_name": doc.service_name,
        "agency_name": doc.agency_name,
        "names": doc.names,
        "body": doc.body,
        "description": doc.description,
        "location_name": doc.location_name,
        "address": doc.address,
        "city": doc.city,
        "postal_code": doc.postal_code,
        "url": doc.url,
        "alert": doc.alert,
        "phone": doc.phone,
        "status": doc.status,
        "fee_type": doc.fee_type,
        "capacity": doc.capacity,
        "referral_method": doc.referral_method,
        "categories": list(doc.categories),
        "service_types": list(doc.service_types),
        "languages": list(doc.languages),
        "latitude": doc.latitude,
        "longitude": doc.longitude,
        "point": {"lat": doc.latitude, "lon": doc.longitude} if has_point else None,
        "minimum_age": doc.minimum_age,
        "maximum_age": doc.maximum_age,
        "verified_at": doc.verified_at.isoformat() if doc.verified_at else None,
        "hours": [
            {"weekday": int(weekday), "opens": str(opens), "closes": str(closes)}
            for weekday, opens, closes in doc.hours
        ],
        "openings": [
            {"start_weekday": weekday, "minutes": {"gte": start, "lt": end}}
            for weekday, start, end in openings
        ],
        "closures": [{"gte": str(start), "lte": str(end)} for start, end in doc.closures],
        "suggest": suggest,
    }


def document_from_source(source: Mapping[str, Any]) -> SearchDocument:
    """An unsaved ``SearchDocument`` from a hit's ``_source`` (no database query)."""
    verified = source.get("verified_at")
    verified_at = datetime.fromisoformat(verified) if verified else None
    if verified_at is not None and verified_at.tzinfo is None:
        verified_at = verified_at.replace(tzinfo=UTC)
    fields: dict[str, Any] = {
        "key": source["key"],
        "network_id": int(source["network_id"]),
        "service_id": source.get("service_id"),
        "agency_id": source.get("agency_id"),
        "location_id": source.get("location_id"),
        "verified_at": verified_at,
        "hours": [[h["weekday"], h["opens"], h["closes"]] for h in source.get("hours") or []],
        "closures": [[c["gte"], c["lte"]] for c in source.get("closures") or []],
    }
    for name in (
        "service_name",
        "agency_name",
        "names",
        "body",
        "description",
        "location_name",
        "address",
        "city",
        "postal_code",
        "url",
        "alert",
        "phone",
        "status",
        "fee_type",
        "capacity",
        "referral_method",
    ):
        fields[name] = source.get(name) or ""
    for name in ("categories", "service_types", "languages"):
        fields[name] = list(source.get(name) or [])
    for name in ("latitude", "longitude", "minimum_age", "maximum_age"):
        fields[name] = source.get(name)
    return SearchDocument(**fields)


def index_action(doc: SearchDocument, index: str) -> dict[str, Any]:
    """A bulk ``index`` action: the document's key is its ``_id``."""
    return {"_op_type": "index", "_index": index, "_id": doc.key, "_source": document_source(doc)}


def delete_action(key: str, index: str) -> dict[str, Any]:
    return {"_op_type": "delete", "_index": index, "_id": key}
