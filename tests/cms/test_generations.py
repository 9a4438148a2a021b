"""Values kept beside a generation's token (``cms.generations.kept_for``): one read of the
cache while kept, computed again once the generation is bumped, never kept while the cache
cannot be reached."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from cms import generations
from cms.generations import generation, generation_bump, generations_bump, kept_for
from tests.cms.test_cache import cache_at, closed_port


class Counted:
    """A computation that counts its runs and can bump a generation while it runs."""

    def __init__(self, value: int, bump: str | None = None) -> None:
        self.value, self.bump, self.runs = value, bump, 0

    def __call__(self) -> int:
        self.runs += 1
        if self.bump:
            generation_bump(self.bump)
        return self.value


@pytest.mark.django_db
def test_a_kept_value_is_read_until_its_generation_is_bumped() -> None:
    compute = Counted(3)
    assert kept_for("things", "things-count", compute, 60) == 3
    compute.value = 4  # what the data now says; the generation has not been bumped
    assert kept_for("things", "things-count", compute, 60) == 3
    assert compute.runs == 1
    generation_bump("things")
    assert kept_for("things", "things-count", compute, 60) == 4
    assert compute.runs == 2
    # Another generation's bump is not this one's.
    generation_bump("other-things")
    assert kept_for("things", "things-count", compute, 60) == 4
    assert compute.runs == 2


@pytest.mark.django_db
def test_a_bump_while_computing_leaves_the_value_out_of_date() -> None:
    """The token is read before computing: a writer that commits while the value is computed
    makes the next reader compute again, not read a value older than the writer's change."""
    racing = Counted(1, bump="racing")
    assert kept_for("racing", "racing-value", racing, 60) == 1
    settled = Counted(2)
    assert kept_for("racing", "racing-value", settled, 60) == 2
    assert settled.runs == 1
    assert kept_for("racing", "racing-value", settled, 60) == 2
    assert settled.runs == 1


@pytest.mark.django_db
def test_a_value_kept_under_a_generation_the_cache_lost_is_computed_again() -> None:
    compute = Counted(5)
    kept_for("lost", "lost-value", compute, 60)
    cache.delete("generation:lost")  # Redis restarted without its data, say
    kept_for("lost", "lost-value", compute, 60)
    assert compute.runs == 2


@pytest.mark.django_db
def test_generations_bump_renews_each_named_once() -> None:
    before = {name: generation(name) for name in ("a", "b", "c")}
    generations_bump(["a", "b", "a"])
    after = {name: generation(name) for name in ("a", "b", "c")}
    assert after["a"] != before["a"]
    assert after["b"] != before["b"]
    assert after["c"] == before["c"]
    generations_bump([])  # nothing to renew: nothing written


def test_nothing_is_kept_while_the_cache_cannot_be_reached(monkeypatch) -> None:
    monkeypatch.setattr(generations, "cache", cache_at(f"redis://127.0.0.1:{closed_port()}/0"))
    compute = Counted(7)
    assert kept_for("away", "away-value", compute, 60) == 7
    assert kept_for("away", "away-value", compute, 60) == 7
    assert compute.runs == 2
