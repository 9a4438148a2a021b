"""The default backend: the index table, queried through the ORM.

PostgreSQL: full-text search on a weighted ``tsvector`` (GIN), synonyms expanded into the
``tsquery``, misspelt words corrected against the network's vocabulary by trigram similarity,
and a bounding box on indexed latitude/longitude before the exact (haversine) distance.
SQLite (the embedded demo): the same filters, facets, distance and ranking; words are matched
by stem as substrings and misspellings corrected with difflib.

Every search is three queries (count, page of hits, facet counts) plus one per misspelt word,
whatever the number of hits.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.postgres.search import SearchQuery as PgSearchQuery
from django.contrib.postgres.search import SearchRank, TrigramSimilarity
from django.db import connection
from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable
from django.db.models.functions import ASin, Cast, Cos, Power, Radians, Sin, Sqrt

from directory.models import CapacityStatus, FeeType, ServiceStatus, TaxonomyTerm
from network.models import Network

from ..models import SearchClosure, SearchDocument, SearchOpening, SearchTag, SearchTerm, TagKind
from ..query import SearchQuery
from ..results import (
    CAPACITY_RANK,
    FACET_KINDS,
    NEVER_VERIFIED_RANK,
    STALE_RANK,
    TEMPORARILY_CLOSED_RANK,
    FacetValue,
    SearchResults,
    facet_label,
    hit_from_document,
    stale_cutoff,
)
from ..text import (
    STOPWORDS,
    SYNONYMS,
    Term,
    corrected_text,
    fold,
    highlight,
    needles_for,
    query_words,
    stem,
    terms,
    words,
)
from .base import SearchBackend as BaseSearchBackend
from .base import Suggestion

EARTH_RADIUS_MILES = 3958.7613
MILES_PER_DEGREE_LATITUDE = 69.0
CLOSENESS_MILES = 5.0  # a hit this far away ranks at half the weight of one next door
MAX_CORRECTIONS = 3
MIN_CORRECTED = 4  # misspelt words this long are searched for as corrected
MIN_SUGGESTED = 3  # … and words this long get a "Did you mean" (with the corrected ones)
TS_CONFIG = "english"
_SYNONYM_WORDS = frozenset(w for group in SYNONYMS for phrase in group for w in words(phrase))


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def bounding_box(
    latitude: float, longitude: float, miles: float
) -> tuple[float, float, float, float]:
    """(south, north, west, east) of a box that contains the circle of ``miles`` around a point."""
    dlat = miles / MILES_PER_DEGREE_LATITUDE
    dlng = miles / (MILES_PER_DEGREE_LATITUDE * max(math.cos(math.radians(latitude)), 0.01))
    return latitude - dlat, latitude + dlat, longitude - dlng, longitude + dlng


def distance_expression(latitude: float, longitude: float) -> Combinable:
    """Great-circle miles from a point to each row's latitude/longitude (haversine, in SQL)."""
    lat = Radians(F("latitude"))
    half_dlat = (lat - Value(math.radians(latitude))) / Value(2.0)
    half_dlng = (Radians(F("longitude")) - Value(math.radians(longitude))) / Value(2.0)
    a = Power(Sin(half_dlat), 2) + Value(math.cos(math.radians(latitude))) * Cos(lat) * Power(
        Sin(half_dlng), 2
    )
    return Value(2 * EARTH_RADIUS_MILES) * ASin(Sqrt(a))


def _any_of(field: str, kind: str, values: tuple[str, ...]) -> Q:
    """Rows with any of these codes: on PostgreSQL a containment test on the row's own JSON
    array (cheap once the other filters have narrowed the rows), elsewhere the tag table."""
    if _postgres():
        condition = Q()
        for value in values:
            condition |= Q(**{f"{field}__contains": [value]})
        return condition
    return Q(Exists(SearchTag.objects.filter(document=OuterRef("pk"), kind=kind, value__in=values)))


def open_filter(at: datetime, tz: ZoneInfo) -> Q:
    """Rows open at ``at``: an opening holding its local minute of the week, started on a day
    that is not closed (today's, or yesterday's still running past midnight)."""
    local = at.astimezone(tz)
    minute = local.weekday() * 24 * 60 + local.hour * 60 + local.minute
    result = Q()
    for day in (local.date(), local.date() - timedelta(days=1)):
        opening = SearchOpening.objects.filter(
            document=OuterRef("pk"),
            start_weekday=day.weekday(),
            start_minute__lte=minute,
            end_minute__gt=minute,
        )
        closed = SearchClosure.objects.filter(
            document=OuterRef("pk"), start_date__lte=day, end_date__gte=day
        )
        result |= Q(Exists(opening)) & ~Q(Exists(closed))
    return result


class SearchBackend(BaseSearchBackend):
    name = "database"

    # --- text --------------------------------------------------------------------------------

    def misspellings(self, text: str, *, network: Network) -> dict[str, str]:
        """Words of a query that are in neither the network's vocabulary (its listings' names,
        needs, service types and descriptions) nor the synonym table → the closest such word."""
        asked = [
            w
            for w in query_words(text)
            if len(w) >= MIN_SUGGESTED and w not in _SYNONYM_WORDS and not w.isdigit()
        ]
        if not asked:
            return {}
        known = set(
            SearchTerm.objects.filter(network=network, word__in=asked).values_list(
                "word", flat=True
            )
        )
        found: dict[str, str] = {}
        for word in [w for w in dict.fromkeys(asked) if w not in known][:MAX_CORRECTIONS]:
            best = self._closest(word, network)
            if best and best != word:
                found[word] = best
        return found

    def corrections(self, text: str, *, network: Network) -> dict[str, str]:
        """Misspelt words searched for as their closest word (short words are only suggested:
        "fod" could be "food" or a word the listings lack)."""
        return {
            w: best
            for w, best in self.misspellings(text, network=network).items()
            if len(w) >= MIN_CORRECTED
        }

    def _closest(self, word: str, network: Network) -> str | None:
        vocabulary = SearchTerm.objects.filter(network=network)
        if _postgres():
            match = (
                vocabulary.filter(word__trigram_similar=word)
                .annotate(similarity=TrigramSimilarity("word", word))
                .order_by("-similarity", "word")
                .values_list("word", flat=True)
                .first()
            )
            if match:
                return match
            candidates = []
        else:
            candidates = list(
                vocabulary.filter(word__startswith=word[0]).values_list("word", flat=True)
            )
        candidates += [w for w in _SYNONYM_WORDS if w[0] == word[0] and len(w) >= MIN_SUGGESTED]
        close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.75)
        return close[0] if close else None

    @staticmethod
    def tsquery(query_terms: list[Term]) -> str:
        """A raw tsquery: every term must match, by any of its alternatives.

        Phrases match in order (``food <-> pantry``); the words typed match anywhere
        (``food & bank``).
        """
        groups = []
        for term in query_terms:
            alternatives = [" <-> ".join(alt) for alt in term.alternatives if alt]
            if term.typed:
                alternatives.append("(" + " & ".join(term.typed) + ")")
            groups.append("(" + " | ".join(alternatives) + ")")
        return " & ".join(groups)

    def _text(self, query_terms: list[Term]) -> tuple[Q, Any]:
        """(filter, rank expression) for the query's terms on this database."""
        if _postgres():
            tsq = PgSearchQuery(self.tsquery(query_terms), search_type="raw", config=TS_CONFIG)
            pg_rank = SearchRank(
                F("search_vector"), tsq, weights=[0.1, 0.2, 0.4, 1.0], cover_density=True
            )
            if not any(term.categories for term in query_terms):
                return Q(search_vector=tsq), pg_rank
            # A term that names a need also matches that need's services, by their tags.
            pg_condition = Q()
            for term in query_terms:
                one = PgSearchQuery(self.tsquery([term]), search_type="raw", config=TS_CONFIG)
                matched = Q(search_vector=one)
                if term.categories:
                    matched |= _any_of("categories", TagKind.CATEGORY, term.categories)
                pg_condition &= matched
            return pg_condition, pg_rank
        condition, rank = Q(), Value(0.1)
        for term in query_terms:
            in_title, in_names, anywhere = Q(), Q(), Q()
            patterns: list[str | None] = [_phrase_pattern(a) for a in term.alternatives if a]
            if term.typed:
                patterns.append(None)
            for pattern in patterns:
                if pattern is None:  # the typed words, anywhere in the field
                    stems = [stem(w) for w in term.typed if w not in STOPWORDS]
                    title, names, body = (_all(stems, f) for f in ("service_name", "names", "body"))
                else:
                    title, names, body = (
                        Q(**{f"{f}__iregex": pattern}) for f in ("service_name", "names", "body")
                    )
                in_title |= title
                in_names |= names
                anywhere |= names | body
            if term.categories:  # a need's services match whatever words they use
                anywhere |= _any_of("categories", TagKind.CATEGORY, term.categories)
            condition &= anywhere
            rank = rank + Case(  # type: ignore[assignment]
                When(in_title, then=Value(2.0)),
                When(in_names, then=Value(1.0)),
                default=Value(0.3),
                output_field=FloatField(),
            )
        return condition, rank

    # --- search ------------------------------------------------------------------------------

    def search(self, query: SearchQuery, *, network: Network, now: datetime) -> SearchResults:
        started = time.perf_counter()
        tz = ZoneInfo(network.time_zone)
        qs = SearchDocument.objects.filter(network=network)
        corrections: dict[str, str] = {}
        query_terms: list[Term] = []
        rank: Any = Value(1.0)
        did_you_mean = ""
        if query.text:
            misspelt = self.misspellings(query.text, network=network)
            corrections = {w: c for w, c in misspelt.items() if len(w) >= MIN_CORRECTED}
            if len(misspelt) > len(corrections):
                did_you_mean = corrected_text(query.text, misspelt)
            query_terms = terms(query.text, corrections=corrections)
            if query_terms:
                condition, rank = self._text(query_terms)
                qs = qs.filter(condition)
        if query.categories:
            qs = qs.filter(_any_of("categories", TagKind.CATEGORY, query.categories))
        if query.service_types:
            qs = qs.filter(_any_of("service_types", TagKind.TYPE, query.service_types))
        if query.languages:
            qs = qs.filter(_any_of("languages", TagKind.LANGUAGE, query.languages))
        if query.free_only:
            qs = qs.filter(fee_type=FeeType.FREE)
        if query.accepting_only:
            qs = qs.filter(capacity=CapacityStatus.ACCEPTING)
        if query.client_age is not None:
            qs = qs.filter(
                Q(minimum_age__isnull=True) | Q(minimum_age__lte=query.client_age),
                Q(maximum_age__isnull=True) | Q(maximum_age__gte=query.client_age),
            )
        if query.open_now and query.open_at is not None:
            qs = qs.filter(open_filter(query.open_at, tz))
        distance: Any = None
        if query.near is not None:
            miles = query.radius_miles or 10.0
            south, north, west, east = bounding_box(
                query.near.latitude, query.near.longitude, miles
            )
            distance = distance_expression(query.near.latitude, query.near.longitude)
            qs = (
                qs.filter(latitude__range=(south, north), longitude__range=(west, east))
                .annotate(distance=distance)
                .filter(distance__lte=miles)
            )
        cutoff = stale_cutoff(now, network.verification_interval_days)
        score = (
            rank
            * Case(
                *(When(capacity=c, then=Value(w)) for c, w in CAPACITY_RANK.items()),
                default=Value(1.0),
                output_field=FloatField(),
            )
            * Case(
                When(verified_at__isnull=True, then=Value(NEVER_VERIFIED_RANK)),
                When(verified_at__lt=cutoff, then=Value(STALE_RANK)),
                default=Value(1.0),
                output_field=FloatField(),
            )
            * Case(
                When(status=ServiceStatus.TEMPORARILY_CLOSED, then=Value(TEMPORARILY_CLOSED_RANK)),
                default=Value(1.0),
                output_field=FloatField(),
            )
        )
        if distance is None:
            qs = qs.annotate(distance=Cast(Value(None), output_field=FloatField()))
        else:
            score = score * (Value(1.0) / (Value(1.0) + F("distance") / Value(CLOSENESS_MILES)))
        by_distance = query.sort == "distance" and distance is not None
        total, counts, page = self._evaluate(
            qs.annotate(score=score), by_distance=by_distance, query=query
        )
        facets = self._facets(counts, query, network)
        # Read by key, not by row id: a refresh that committed since the ranking wrote the
        # service's rows afresh (new ids, same keys); the page shows them as written now. A key
        # is missing only if its service left the index meanwhile.
        found = {
            row.key: row
            for row in SearchDocument.objects.filter(key__in=[key for key, _s, _d in page]).defer(
                "names", "body", "search_vector"
            )
        }
        rows = [(found[key], score_, miles_) for key, score_, miles_ in page if key in found]
        needles = needles_for(query_terms)
        hits = [
            hit_from_document(
                row,
                distance=miles_,
                score=score_,
                now=now,
                tz=tz,
                stale_before=cutoff,
                highlights={
                    "service_name": highlight(row.service_name, needles, width=300),
                    "description": highlight(row.description, needles),
                },
            )
            for row, score_, miles_ in rows
        ]
        return SearchResults(
            query=query,
            hits=hits,
            total=total,
            facets=facets,
            backend=self.name,
            took_ms=(time.perf_counter() - started) * 1000,
            corrections=corrections,
            did_you_mean=did_you_mean,
        )

    @staticmethod
    def _evaluate(
        qs: QuerySet[Any], *, by_distance: bool, query: SearchQuery
    ) -> tuple[int, list[tuple[str, str, int]], list[tuple[str, float, float | None]]]:
        """Total, facet counts and one ranked page (document key, score, distance), evaluating
        the filters once.

        One statement: the matching rows (id, key, score, distance) are materialized, then
        counted, joined to their tags for the facets, and numbered in rank order for the page.
        """
        inner = qs.order_by().values("pk", "score", "distance", "service_name", "key")
        sql, params = inner.query.sql_with_params()
        quote = connection.ops.quote_name
        tags = quote(SearchTag._meta.db_table)
        order = (
            "distance ASC, score DESC, service_name ASC, key ASC"
            if by_distance
            else "score DESC, distance ASC, service_name ASC, key ASC"
        )
        first, last = query.offset, query.offset + query.page_size
        # Identifiers come from model metadata (quoted); every value is a parameter.
        statement = (
            f"WITH m AS MATERIALIZED ({sql}) "  # noqa: S608
            "SELECT 0 AS part, NULL AS kind, NULL AS value, COUNT(*) AS n, "
            "CAST(NULL AS DOUBLE PRECISION) AS score, "
            "CAST(NULL AS DOUBLE PRECISION) AS distance FROM m "
            "UNION ALL "
            f"SELECT 1, t.kind, t.value, COUNT(*), NULL, NULL FROM {tags} t "
            "JOIN m ON t.document_id = m.pk GROUP BY t.kind, t.value "
            "UNION ALL "
            "SELECT 2, NULL, p.key, p.position, p.score, p.distance FROM ("
            f"SELECT key, score, distance, ROW_NUMBER() OVER (ORDER BY {order}) AS position "
            "FROM m) p WHERE p.position > %s AND p.position <= %s"
        )
        total, counts, page = 0, [], []
        with connection.cursor() as cursor:
            cursor.execute(statement, [*params, first, last])
            for part, kind, value, n, score, miles in cursor.fetchall():
                if part == 0:
                    total = int(n)
                elif part == 1:
                    counts.append((str(kind), str(value), int(n)))
                else:
                    page.append((int(n), str(value), float(score), miles))
        page.sort()
        return total, counts, [(key, score, miles) for _n, key, score, miles in page]

    def _facets(
        self, counts: list[tuple[str, str, int]], query: SearchQuery, network: Network
    ) -> dict[str, list[FacetValue]]:
        """Counts per category, type, language, fee and capacity over the whole result set."""
        found: dict[str, list[tuple[str, int]]] = {kind: [] for kind in FACET_KINDS}
        for kind, value, n in counts:
            found.setdefault(kind, []).append((value, n))
        type_names: dict[str, str] = {}
        if found.get(TagKind.TYPE):
            type_names = dict(
                TaxonomyTerm.objects.filter(network=network).values_list("code", "name")
            )
        selected: dict[str, set[str]] = {
            "category": set(query.categories),
            "type": set(query.service_types),
            "language": set(query.languages),
            "fee": {FeeType.FREE} if query.free_only else set(),
            "capacity": {CapacityStatus.ACCEPTING} if query.accepting_only else set(),
        }
        return {
            kind: sorted(
                (
                    FacetValue(
                        value=value,
                        label=facet_label(kind, value, type_names),
                        count=n,
                        selected=value in selected.get(kind, set()),
                    )
                    for value, n in values
                ),
                key=lambda f: (-f.count, f.label),
            )
            for kind, values in found.items()
        }

    # --- autocomplete ------------------------------------------------------------------------

    def suggest(self, prefix: str, *, network: Network, limit: int = 8) -> list[Suggestion]:
        from ..results import CATEGORY_NAMES

        typed = " ".join(words(prefix))
        if len(typed) < 2:
            return []
        categories = [
            Suggestion(label=str(name), kind="category", value=code)
            for code, name in CATEGORY_NAMES.items()
            if any(w.startswith(typed) for w in words(str(name)))
            or fold(str(name)).startswith(typed)
        ][: max(2, limit // 3)]
        docs = SearchDocument.objects.filter(network=network)
        names: QuerySet[Any]
        if _postgres():
            names = (
                docs.filter(service_name__trigram_word_similar=typed)
                .annotate(similarity=TrigramSimilarity("service_name", typed))
                .order_by("-similarity", "service_name")
            )
        else:
            names = docs.filter(service_name__icontains=typed).order_by("service_name")
        found = list(dict.fromkeys(names.values_list("service_name", flat=True)[: limit * 4]))
        # Names with a word that starts with what was typed come first, then close spellings.
        found.sort(key=lambda n: not any(w.startswith(typed) for w in words(n)))
        return categories + [
            Suggestion(label=n, kind="service", value=n) for n in found[: limit - len(categories)]
        ]


def _phrase_pattern(words_: tuple[str, ...]) -> str:
    """A regular expression for a phrase: each word's stem begins a word, in order."""
    return r"\b" + r"\w*\W+".join(re.escape(stem(w)) for w in words_)


def _all(stems: list[str], field: str) -> Q:
    """Every stem begins a word of the field (SQLite: Django's REGEXP function)."""
    condition = Q()
    for s in stems:
        condition &= Q(**{f"{field}__iregex": rf"\b{re.escape(s)}"})
    return condition
