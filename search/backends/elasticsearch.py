"""Service search in Elasticsearch: one index behind an alias, queried with elasticsearch-dsl.

The ``SearchDocument`` table stays the source of truth; this backend is sent copies of its rows
(``documents_index``/``documents_delete``) and can be rebuilt from it at any time (``rebuild``
loads a new concrete index, then moves the alias in one request, so search never sees an empty
or half-built index). Every hit is built from ``_source``: a search makes no database query
except one for the network's service-type names when the type facet has buckets.

The request bodies are built by pure functions (``build_index``, ``build_search``,
``build_suggest``, ``index_action``, ``delete_action``) and the responses read by others
(``results_from_response``, ``suggestions_from_response``), so they can be checked without a
server. A dead, slow or failing cluster, or a missing index, raises ``SearchBackendUnavailable``
and the database backend answers instead.

Settings (``HANDOFF_SEARCH_BACKENDS`` entry)::

    {"BACKEND": "search.backends.elasticsearch", "URLS": ["http://localhost:9200"],
     "INDEX": "handoff-services", "TIMEOUT": 2.0, "OPTIONS": {"api_key": "..."}}
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ImproperlyConfigured
from django.utils.safestring import SafeString, mark_safe
from elasticsearch import ApiError, Elasticsearch, NotFoundError, TransportError, helpers
from elasticsearch_dsl import SF as ScoreFunction
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
    Q,
    Search,
    Text,
    analyzer,
    token_filter,
)
from elasticsearch_dsl.query import Query

from cms.categories import SDOH_CATEGORIES
from directory.geocoding import distance_miles
from directory.models import CapacityStatus, FeeType, ServiceStatus, TaxonomyTerm
from network.models import Network

from .. import results as search_results
from ..documents import weekly_intervals
from ..models import SearchDocument
from ..query import DEFAULT_RADIUS_MILES, MAX_PAGE, MAX_PAGE_SIZE, Near, SearchQuery
from ..results import FacetValue, SearchHit, SearchResults, facet_label, hit_from_document
from ..text import synonym_rules
from . import base

logger = logging.getLogger(__name__)

DEFAULT_INDEX = "handoff-services"
DEFAULT_TIMEOUT = 2.0
WRITE_TIMEOUT = 30.0  # bulk loads and index administration may take longer than a query
WRITE_RETRIES = 2
BULK_CHUNK = 500
FACET_SIZE = 50
HIGHLIGHT_WIDTH = 220
SUGGESTION = "names"
SUGGEST_CONTEXT = "network"
SUGGEST_WEIGHT_CATEGORY = 3  # a need is the broader completion: listed before service names
SUGGEST_WEIGHT_SERVICE = 2
MINUTES_PER_DAY = 24 * 60

# The query's facet kinds and the keyword field each one counts.
FACET_FIELDS: dict[str, str] = {
    "category": "categories",
    "type": "service_types",
    "language": "languages",
    "fee": "fee_type",
    "capacity": "capacity",
}
# Full text: the short names count most; ``text_all`` (names and body together, by copy_to)
# lets every word of a query match in a different field while each query word stays required.
TEXT_FIELDS = ("names^3", "service_name^3", "agency_name^2", "body", "text_all")
# Large fields a hit never shows: left out of the search response.
SOURCE_EXCLUDES = ("names", "body", "openings", "suggest")
CATEGORY_CODES_BY_NAME = {name: code for code, name in SDOH_CATEGORIES}

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
    names = _text(copy_to="text_all")
    body = _text(copy_to="text_all")
    text_all = _text()
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


# --- queries -------------------------------------------------------------------------------


def _miles(value: float) -> str:
    return f"{value:g}mi"


def _origin(near: Near) -> dict[str, float]:
    return {"lat": near.latitude, "lon": near.longitude}


def open_filter(at: datetime, tz: ZoneInfo) -> Query:
    """Documents open at ``at``: an opening containing that local minute of the week that began
    today (and today is not closed) or began yesterday and runs past midnight (and yesterday was
    not closed), as ``directory.hours`` decides: a closure cancels the openings that start on it.
    """
    local = at.astimezone(tz)
    minute = local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute
    today = local.date()

    def began_on(day: date) -> Query:
        opening = Q(
            "nested",
            path="openings",
            query=Q(
                "bool",
                filter=[
                    Q("term", **{"openings.start_weekday": day.weekday()}),
                    Q("term", **{"openings.minutes": minute}),
                ],
            ),
        )
        return Q("bool", filter=[opening], must_not=[Q("term", closures=day.isoformat())])

    return Q(
        "bool",
        should=[began_on(today), began_on(today - timedelta(days=1))],
        minimum_should_match=1,
    )


def _age_filter(age: int) -> Query:
    def bound(field: str, op: str) -> Query:
        return Q(
            "bool",
            should=[
                Q("range", **{field: {op: age}}),
                Q("bool", must_not=[Q("exists", field=field)]),
            ],
            minimum_should_match=1,
        )

    return Q("bool", filter=[bound("minimum_age", "lte"), bound("maximum_age", "gte")])


def _filters(query: SearchQuery, network: Network, now: datetime) -> list[Query]:
    filters = [Q("term", network_id=str(network.pk))]
    if query.near is not None:
        radius = query.radius_miles or DEFAULT_RADIUS_MILES
        filters.append(Q("geo_distance", distance=_miles(radius), point=_origin(query.near)))
    if query.categories:
        filters.append(Q("terms", categories=list(query.categories)))
    if query.service_types:
        filters.append(Q("terms", service_types=list(query.service_types)))
    if query.languages:
        filters.append(Q("terms", languages=list(query.languages)))
    if query.free_only:
        filters.append(Q("term", fee_type=FeeType.FREE.value))
    if query.accepting_only:
        filters.append(Q("term", capacity=CapacityStatus.ACCEPTING.value))
    if query.client_age is not None:
        filters.append(_age_filter(query.client_age))
    if query.open_now:
        filters.append(open_filter(query.open_at or now, ZoneInfo(network.time_zone)))
    return filters


def _score_functions(query: SearchQuery, network: Network, now: datetime) -> list[Any]:
    functions = []
    if query.near is not None:
        radius = query.radius_miles or DEFAULT_RADIUS_MILES
        functions.append(
            ScoreFunction(
                "gauss",
                point={"origin": _origin(query.near), "scale": _miles(radius), "offset": "1mi"},
            )
        )
    for status, rank in search_results.CAPACITY_RANK.items():
        if rank != 1.0:
            functions.append(
                ScoreFunction({"filter": Q("term", capacity=status.value), "weight": rank})
            )
    stale_before = search_results.stale_cutoff(now, network.verification_interval_days)
    functions.append(
        ScoreFunction(
            {
                "filter": Q("range", verified_at={"lt": stale_before.isoformat()}),
                "weight": search_results.STALE_RANK,
            }
        )
    )
    functions.append(
        ScoreFunction(
            {
                "filter": Q("bool", must_not=[Q("exists", field="verified_at")]),
                "weight": search_results.NEVER_VERIFIED_RANK,
            }
        )
    )
    functions.append(
        ScoreFunction(
            {
                "filter": Q("term", status=ServiceStatus.TEMPORARILY_CLOSED.value),
                "weight": search_results.TEMPORARILY_CLOSED_RANK,
            }
        )
    )
    return functions


def build_search(
    query: SearchQuery, *, network: Network, now: datetime, index: str = DEFAULT_INDEX
) -> Search:
    """The ``Search`` for one page of ``query`` in ``network`` (pure: no request is made)."""
    must = (
        [
            Q(
                "multi_match",
                query=query.text,
                fields=list(TEXT_FIELDS),
                fuzziness="AUTO",
                operator="and",
            )
        ]
        if query.text
        else [Q("match_all")]  # a bool of filters alone scores 0, which no function can raise
    )
    matched = Q("bool", must=must, filter=_filters(query, network, now))
    search = Search(index=index).query(
        Q(
            "function_score",
            query=matched,
            functions=_score_functions(query, network, now),
            score_mode="multiply",
            boost_mode="multiply",
        )
    )
    if query.sort == "distance" and query.near is not None:
        search = search.sort(
            {
                "_geo_distance": {
                    "point": _origin(query.near),
                    "order": "asc",
                    "unit": "mi",
                    "distance_type": "arc",
                }
            },
            "_score",
            {"key": "asc"},
        )
    else:
        search = search.sort("_score", {"key": "asc"})
    for kind, field in FACET_FIELDS.items():
        search.aggs.bucket(kind, "terms", field=field, size=FACET_SIZE)
    search = search.highlight("service_name", number_of_fragments=0)
    search = search.highlight(
        "description",
        fragment_size=HIGHLIGHT_WIDTH,
        number_of_fragments=1,
        no_match_size=HIGHLIGHT_WIDTH,
    )
    search = search.highlight_options(
        pre_tags=["<mark>"], post_tags=["</mark>"], encoder="html", require_field_match=False
    )
    search = search.source(excludes=list(SOURCE_EXCLUDES))
    search = search.extra(track_total_hits=True, track_scores=True)
    return search[query.offset : query.offset + query.page_size]


def build_suggest(
    prefix: str, *, network: Network, limit: int, index: str = DEFAULT_INDEX
) -> Search:
    """The completion request for what was typed, within one network."""
    return (
        Search(index=index)
        .extra(size=0)
        .source(False)
        .suggest(
            SUGGESTION,
            prefix,
            completion={
                "field": "suggest",
                "size": limit,
                "skip_duplicates": True,
                "contexts": {SUGGEST_CONTEXT: [str(network.pk)]},
            },
        )
    )


# --- responses -----------------------------------------------------------------------------


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
        backend=SearchBackend.name,
        took_ms=took_ms,
    )


def suggestions_from_response(body: Mapping[str, Any]) -> list[base.Suggestion]:
    """Suggestions in the order Elasticsearch ranked them, each once."""
    found: list[base.Suggestion] = []
    seen: set[tuple[str, str]] = set()
    for entry in (body.get("suggest") or {}).get(SUGGESTION) or []:
        for option in entry.get("options") or []:
            text = str(option["text"])
            code = CATEGORY_CODES_BY_NAME.get(text)
            suggestion = (
                base.Suggestion(label=text, kind="category", value=code)
                if code is not None
                else base.Suggestion(label=text, kind="service", value=text)
            )
            if (suggestion.kind, suggestion.value) not in seen:
                seen.add((suggestion.kind, suggestion.value))
                found.append(suggestion)
    return found


# --- errors --------------------------------------------------------------------------------


def is_unavailable(exc: Exception) -> bool:
    """Whether an error means "ask the database instead" rather than a mistake in a request."""
    if isinstance(exc, TransportError):  # refused, timed out, TLS, unreadable answer
        return True
    if isinstance(exc, NotFoundError):  # the index (alias) is missing
        return True
    if isinstance(exc, ApiError):
        return exc.status_code >= 500 or exc.status_code in (408, 429)
    return False


@contextmanager
def unavailable_on_failure(what: str) -> Iterator[None]:
    """Turn a down, overloaded or unbuilt cluster into ``SearchBackendUnavailable`` (chained)."""
    try:
        yield
    except (TransportError, ApiError) as exc:
        if is_unavailable(exc):
            raise base.SearchBackendUnavailable(f"Elasticsearch could not {what}: {exc}") from exc
        raise


def _failure_is_ignorable(item: Mapping[str, Any]) -> bool:
    """A delete of a document that is not there (any more) is not a failure."""
    (op_type, result), *_rest = item.items()
    return bool(
        op_type == "delete" and result.get("status") == 404 and result.get("result") == "not_found"
    )


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# --- the backend ---------------------------------------------------------------------------


class SearchBackend(base.SearchBackend):
    """Search answered by Elasticsearch; any failure to answer falls back to the database."""

    name = "elasticsearch"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        urls = list(params.get("URLS") or [])
        if not urls:
            raise ImproperlyConfigured("The Elasticsearch search backend needs URLS.")
        self.alias: str = params.get("INDEX") or DEFAULT_INDEX
        self.timeout = float(params.get("TIMEOUT") or DEFAULT_TIMEOUT)
        options = {
            "request_timeout": self.timeout,
            "max_retries": 0,
            "retry_on_timeout": False,
            **(params.get("OPTIONS") or {}),
        }
        # Queries fail fast (no retries, short timeout); writes get longer and a few retries.
        self.client = Elasticsearch(urls, **options)
        self.write_client = self.client.options(
            request_timeout=max(self.timeout, WRITE_TIMEOUT),
            max_retries=WRITE_RETRIES,
            retry_on_timeout=True,
        )

    # Reading

    def search(self, query: SearchQuery, *, network: Network, now: datetime) -> SearchResults:
        request = build_search(query, network=network, now=now, index=self.alias)
        started = time.perf_counter()
        with unavailable_on_failure("search"):
            body = request.using(self.client).execute().to_dict()
        took_ms = (time.perf_counter() - started) * 1000
        type_names: dict[str, str] = {}
        if facet_buckets(body, "type"):
            type_names = dict(
                TaxonomyTerm.objects.filter(network=network).values_list("code", "name")
            )
        return results_from_response(
            body, query, network=network, now=now, type_names=type_names, took_ms=took_ms
        )

    def suggest(self, prefix: str, *, network: Network, limit: int = 8) -> list[base.Suggestion]:
        prefix = " ".join(prefix.split())[:100]
        if not prefix or limit <= 0:
            return []
        request = build_suggest(prefix, network=network, limit=limit, index=self.alias)
        with unavailable_on_failure("suggest"):
            body = request.using(self.client).execute().to_dict()
        return suggestions_from_response(body)[:limit]

    # Writing

    def documents_index(self, documents: Iterable[SearchDocument]) -> None:
        # require_alias: never let a write auto-create a concrete index named like the alias.
        actions = (index_action(doc, self.alias) for doc in documents)
        self._bulk(actions, what="index documents", require_alias=True)

    def documents_delete(self, keys: Iterable[str]) -> None:
        actions = (delete_action(key, self.alias) for key in keys)
        self._bulk(actions, what="delete documents", require_alias=True)

    def rebuild(
        self,
        documents: Iterable[SearchDocument],
        *,
        total: int,
        progress: base.Progress | None = None,
    ) -> None:
        """Load a new concrete index, move the alias to it in one request, drop the old ones."""
        name = f"{self.alias}-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        client = self.write_client
        with unavailable_on_failure("create an index"):
            build_index(name).create(using=client)
        switched = False
        previous: list[str] = []
        try:
            done = 0
            for chunk in _chunks(documents, BULK_CHUNK):
                self._bulk((index_action(doc, name) for doc in chunk), what="load the index")
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
            with unavailable_on_failure("switch the index"):
                client.indices.refresh(index=name)
                previous = self._aliased_indices()
                client.indices.update_aliases(
                    actions=[
                        *({"remove": {"index": old, "alias": self.alias}} for old in previous),
                        {"add": {"index": name, "alias": self.alias}},
                    ]
                )
            switched = True
        finally:
            if not switched:
                self._delete_quietly([name])
        self._delete_quietly([old for old in previous if old != name])

    def _aliased_indices(self) -> list[str]:
        try:
            found = self.write_client.indices.get_alias(name=self.alias)
        except NotFoundError:
            return []
        return sorted(found.body)

    def _delete_quietly(self, names: Sequence[str]) -> None:
        if not names:
            return
        try:
            self.write_client.indices.delete(index=list(names), ignore_unavailable=True)
        except (TransportError, ApiError):
            logger.warning("Could not delete Elasticsearch indices %s", names, exc_info=True)

    def _bulk(self, actions: Iterable[dict[str, Any]], *, what: str, **kwargs: Any) -> None:
        with unavailable_on_failure(what):
            _ok, errors = helpers.bulk(
                self.write_client, actions, chunk_size=BULK_CHUNK, raise_on_error=False, **kwargs
            )
        items = errors if isinstance(errors, list) else []
        failures = [item for item in items if not _failure_is_ignorable(item)]
        if failures:
            logger.error("Elasticsearch could not %s: %s", what, failures[:5])
            raise base.SearchBackendUnavailable(
                f"Elasticsearch could not {what}: {len(failures)} action(s) failed, "
                f"the first: {failures[0]}"
            )
