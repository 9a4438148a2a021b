"""Elasticsearch request bodies: a page of a search and a completion request.

``build_search`` and ``build_suggest`` are pure (no request is made): they return
elasticsearch-dsl ``Search`` objects the backend sends, and which tests compare with ``to_dict()``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from elasticsearch_dsl import SF as ScoreFunction
from elasticsearch_dsl import Q, Search
from elasticsearch_dsl.query import Query

from directory.models import CapacityStatus, FeeType, ServiceStatus
from network.models import Network

from .. import results as search_results
from ..query import DEFAULT_RADIUS_MILES, Near, SearchQuery
from ..text import terms
from .elasticsearch_mapping import DEFAULT_INDEX, SUGGEST_CONTEXT

FACET_SIZE = 50
HIGHLIGHT_WIDTH = 220
SUGGESTION = "names"
DID_YOU_MEAN = "did_you_mean"
SPELLING_FIELD = "spelling"  # names and body, folded but not stemmed (elasticsearch_mapping)
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


def _words_match(text: str) -> Query:
    return Q("multi_match", query=text, fields=list(TEXT_FIELDS), fuzziness="AUTO", operator="and")


def _text_query(text: str) -> list[Query]:
    """Every word must match; a phrase that names a need (``search.synonyms.NEEDS``: "comida",
    "ride to doctor") may instead match that need's services, by their category codes."""
    query_terms = terms(text)
    if not any(term.categories for term in query_terms):
        return [_words_match(text)]
    return [
        Q(
            "bool",
            should=[
                _words_match(" ".join(term.typed) or term.label),
                Q("terms", categories=list(term.categories)),
            ],
            minimum_should_match=1,
        )
        if term.categories
        else _words_match(term.label)
        for term in query_terms
    ]


def build_search(
    query: SearchQuery, *, network: Network, now: datetime, index: str = DEFAULT_INDEX
) -> Search:
    """The ``Search`` for one page of ``query`` in ``network`` (pure: no request is made)."""
    must = (
        _text_query(query.text)
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
    if query.text:
        search = search.suggest(DID_YOU_MEAN, query.text, phrase=did_you_mean(network))
    search = search.source(excludes=list(SOURCE_EXCLUDES))
    search = search.extra(track_total_hits=True, track_scores=True)
    return search[query.offset : query.offset + query.page_size]


def did_you_mean(network: Network) -> dict[str, Any]:
    """The phrase suggester: the query's words corrected from the indexed words (three letters
    up: "fod pantry" → "food pantry"), kept only if the corrected phrase finds a service of
    this network (collate), best first."""
    return {
        "field": SPELLING_FIELD,
        "size": 1,
        "max_errors": 2,
        "direct_generator": [
            {
                "field": SPELLING_FIELD,
                "suggest_mode": "missing",
                "min_word_length": 3,
                "prefix_length": 1,
            }
        ],
        "collate": {
            "query": {
                "source": {
                    "bool": {
                        "filter": [
                            {"term": {"network_id": "{{network}}"}},
                            {
                                "match": {
                                    SPELLING_FIELD: {
                                        "query": "{{suggestion}}",
                                        "operator": "and",
                                    }
                                }
                            },
                        ]
                    }
                }
            },
            "params": {"network": str(network.pk)},
            "prune": False,
        },
    }


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
