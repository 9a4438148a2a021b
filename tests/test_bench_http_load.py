"""bench.http_load: the pages measured in rounds, and the verdict on each page's median round."""

from __future__ import annotations

from bench.http_load import Measured, median_round, meets_target, rounds_order


def measured(rps: float, *, p95_ms: float = 250.0, problem: str = "", **statuses: int) -> Measured:
    """A run of 10 s with ``rps`` requests a second (all 200 unless ``statuses`` says)."""
    return Measured(
        "inbox",
        requests=round(rps * 10),
        seconds=10.0,
        p95_ms=p95_ms,
        statuses=statuses or {"200": round(rps * 10)},
        problem=problem,
    )


def test_the_pages_take_turns_round_after_round():
    assert rounds_order(["search", "inbox", "tracker"], 2) == [
        (1, "search"),
        (1, "inbox"),
        (1, "tracker"),
        (2, "search"),
        (2, "inbox"),
        (2, "tracker"),
    ]
    assert rounds_order(["inbox"], 1) == [(1, "inbox")]


def test_the_median_round_is_neither_the_best_nor_the_worst():
    rounds = [measured(101.2), measured(78.4), measured(86.0)]

    assert median_round(rounds) is rounds[2]
    # With an even number of rounds, the lower of the two in the middle.
    even = [measured(90.0), measured(70.0), measured(100.0), measured(80.0)]
    assert median_round(even) is even[3]
    assert median_round([rounds[0]]) is rounds[0]


def test_a_failed_round_is_never_the_median_of_rounds_that_ran():
    failed = measured(0.0, problem="wrk failed (1): connection refused")
    rounds = [measured(95.0), failed, measured(85.0)]

    assert median_round(rounds) is rounds[2]  # the lower middle of 85 and 95
    assert median_round([failed]) is failed


def test_the_target_needs_the_rate_the_latency_and_only_good_answers():
    assert meets_target(measured(80.0, p95_ms=399.0))
    assert not meets_target(measured(79.9))
    assert not meets_target(measured(90.0, p95_ms=400.0))
    assert not meets_target(measured(90.0, **{"200": 899, "500": 1}))
    assert not meets_target(measured(90.0, problem="wrk failed (1)"))
    errors = measured(90.0)
    errors.socket_errors = 2
    assert not meets_target(errors)
