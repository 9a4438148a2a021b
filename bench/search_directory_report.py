"""The directory search benchmark's measuring and report: each way's warm-up and measured pass,
percentiles, ratios and the targets (see ``bench.search_directory``).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.import_directory import note, out
from bench.search_directory_queries import Answer, Runner

if TYPE_CHECKING:
    from search.query import SearchQuery

TARGET_P95_MS = 30.0
TARGET_VS_NAIVE = 10.0
TARGET_VS_WAGTAIL = 3.0


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class Timings:
    name: str
    ms: list[float]
    answers: list[Answer]
    warmup_seconds: float

    def pct(self, p: float) -> float:
        return _pct(self.ms, p)

    @property
    def with_hits(self) -> int:
        return sum(a.total > 0 for a in self.answers)


def measure(
    name: str, runner: Runner, queries: list[SearchQuery], *, live: bool, count_sql: bool = False
) -> Timings:
    """Warm up with the whole mix (counting SQL queries if asked), then time each query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    started = time.perf_counter()
    sql: list[tuple[int, float, float]] = []
    for query in queries:
        if count_sql:
            with CaptureQueriesContext(connection) as captured:
                began = time.perf_counter()
                runner(query)
                wall = (time.perf_counter() - began) * 1000
            done = captured.captured_queries
            sql.append((len(done), sum(float(q["time"]) for q in done) * 1000, wall))
        else:
            runner(query)
    warmup = time.perf_counter() - started
    if live:
        note(f"  {name}: warm-up {warmup:.1f} s")
    gc.collect()
    ms, answers = [], []
    for n, query in enumerate(queries):
        started = time.perf_counter()
        answer = runner(query)
        ms.append((time.perf_counter() - started) * 1000)
        if count_sql:
            answer.queries, answer.sql_ms, answer.captured_ms = sql[n]
        answers.append(answer)
    if live:
        note(f"  {name}: measured {sum(ms) / 1000:.1f} s")
    return Timings(name, ms, answers, warmup)


def report(
    db: Timings, naive: Timings, wagtail: Timings, queries: list[SearchQuery], *, postgres: bool
) -> int:
    out("")
    out(f"{'backend':<12} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9} {'mean ms':>9}  hits>=1")
    for t in (db, naive, wagtail):
        out(
            f"{t.name:<12} {t.pct(50):>9.1f} {t.pct(95):>9.1f} {max(t.ms):>9.1f} "
            f"{statistics.fmean(t.ms):>9.1f}  {t.with_hits}/{len(t.ms)}"
            f"   (warm-up pass {t.warmup_seconds:.1f} s)"
        )
    out("")
    for t in (naive, wagtail):
        out(
            f"{t.name} / database: p95 {t.pct(95) / db.pct(95):,.1f}x, "
            f"p50 {t.pct(50) / db.pct(50):,.1f}x, mean "
            f"{statistics.fmean(t.ms) / statistics.fmean(db.ms):,.1f}x"
        )
    for t in (naive, wagtail):
        same = sum(a.total == b.total for a, b in zip(db.answers, t.answers, strict=True))
        both = sum(a.total > 0 and b.total > 0 for a, b in zip(db.answers, t.answers, strict=True))
        more = sum(a.total > b.total for a, b in zip(db.answers, t.answers, strict=True))
        out(
            f"totals, database vs {t.name}: equal {same}/{len(queries)}, both with hits {both}, "
            f"database more {more}, fewer {len(queries) - same - more} "
            "(text matching differs: synonyms, stems, agency names, corrections)"
        )
    totals = [a.total for a in db.answers]
    out(
        f"database totals: median {statistics.median(totals):,.0f}, max {max(totals):,}, "
        f"zero {sum(t == 0 for t in totals)}"
    )
    counts = [a.queries for a in db.answers]
    hit_counts = [a.queries for a in db.answers if a.total]
    empty_counts = [a.queries for a in db.answers if not a.total]
    out(
        f"SQL queries per database search: min {min(counts)}, max {max(counts)} "
        f"(with hits: {_span(hit_counts)}; without: {_span(empty_counts)}; "
        f"by count {dict(sorted(Counter(counts).items()))})"
    )
    in_sql = [a.sql_ms for a in db.answers]
    walls = [a.captured_ms for a in db.answers]
    out(
        f"database search time in SQL (warm-up pass, per the driver): mean "
        f"{statistics.fmean(in_sql):.1f} of {statistics.fmean(walls):.1f} ms, p95 "
        f"{_pct(in_sql, 95):.1f} of {_pct(walls, 95):.1f} ms; the rest is Python "
        "(building the queries, hits, highlights, open status)"
    )
    slowest = sorted(range(len(queries)), key=lambda i: db.ms[i], reverse=True)[:5]
    out("slowest database searches:")
    for i in slowest:
        out(f"  {db.ms[i]:7.1f} ms  total {db.answers[i].total:>6,}  {_describe(queries[i])}")
    out("")
    vs_naive = naive.pct(95) / db.pct(95)
    vs_wagtail = wagtail.pct(95) / db.pct(95)
    scope = "" if postgres else " (SQLite run; the targets are for PostgreSQL)"
    out(f"targets{scope}:")
    out(f"  {_verdict(db.pct(95) < TARGET_P95_MS)} database p95 {db.pct(95):.1f} ms < 30 ms")
    out(f"  {_verdict(vs_naive >= TARGET_VS_NAIVE)} {vs_naive:,.1f}x faster than naive ORM, >= 10x")
    ok = vs_wagtail >= TARGET_VS_WAGTAIL
    out(f"  {_verdict(ok)} {vs_wagtail:,.1f}x faster than Wagtail, >= 3x")
    return 0


def _pct(values: list[float], p: float) -> float:
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _span(values: list[int]) -> str:
    return f"{min(values)}-{max(values)}" if values else "none"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _describe(query: SearchQuery) -> str:
    return "&".join(f"{k}={v}" for k, v in query.to_params())
