"""Every URL pattern, walked by every role of network A and by anonymous visitors, filled in with
network B's objects and with the client data of another clinic in A: nothing of theirs appears.

The URL patterns come from the resolver (workspace, JSON API, listings, search, every Wagtail
admin URL including each snippet viewset's, document serving, the public pages and MEDIA_URL), so
a new view is walked without editing the walk. Each path parameter is filled with the foreign
party's objects of the model the URL names:

- ``ROUTE_MODELS``: the model from where the pattern sits (``admin/snippets/<app>/<model>/``,
  ``workspace/clients/<pk>``…), tried first;
- the model the view was built for (Wagtail viewsets pass it to ``as_view``);
- ``PARAM_MODELS`` / ``PARAM_VALUES``: the model (or values) a parameter name stands for;
- ``UNNAMED_GROUPS``: patterns whose regular expression has unnamed groups.

A parameter no rule fills makes ``test_every_url_pattern_is_walked`` fail: add a rule, or an entry
to ``EXCLUDED`` with the reason (tests/network/isolation_targets.py). To add a kind of object, see
tests/network/isolation_world.py.

Every answer is judged: a marker of the foreign party in the body or headers, a 2xx answer to a
URL naming one of its objects, a 5xx, or a change to any of its rows is a failure. All failures are
collected and reported as one table (URL, walker, method, status, what was wrong); set
ISOLATION_WALK_REPORT=<file> to have every walker's table appended to a file as well.

Each walker is its own test (about 1,150 requests, GET and POST; 5-20 s each on SQLite on a
two-core machine, about 90 s of CPU for all seven): pytest-xdist spreads them. The owners' rows
are compared only after a pattern wrote to one of their tables (every SQL statement is watched).

The machinery is beside this file: isolation_targets.py fills the patterns in, isolation_judge.py
requests and judges the answers.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_save
from django.urls import resolve

from network.models import Organization, Role
from tests.network.isolation_judge import Writes, failures_table, judge, walk
from tests.network.isolation_targets import Target, pattern_excluded, patterns_walk, targets_fill
from tests.network.isolation_world import World, world_build

pytestmark = pytest.mark.urls("tests.network.isolation_urls")
logger = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    """Built once for the module, inside a transaction rolled back at the end."""
    with django_db_blocker.unblock(), transaction.atomic():
        built = world_build()
        yield built
        transaction.set_rollback(True)


# ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_url_pattern_is_walked(world: World) -> None:
    """Each pattern is either filled with network B's objects or excluded with a reason."""
    problems = []
    for pattern in patterns_walk():
        if pattern_excluded(pattern):
            continue
        targets = targets_fill(pattern, world.bravo)
        if targets is None:
            problems.append(f"{pattern.route} ({pattern.view}): no rule fills {pattern.params}")
        elif not targets:
            problems.append(f"{pattern.route}: network B owns no object it names")
        for target in targets or []:
            path = target.url.split("?")[0]
            try:
                match = resolve(path)
            except Exception as error:
                problems.append(
                    f"{pattern.route}: built {target.url}, which does not resolve ({error})"
                )
                continue
            if (
                match.func is not pattern.url_pattern.callback
                and pattern.view != "wagtail.views.serve"
                # django-ninja names each operation of one path (GET and POST of a list, the
                # API's root): the first pattern of the route answers every method of it.
                and match.route != pattern.route
            ):
                problems.append(f"{pattern.route}: built {target.url}, which reaches {match.func}")
    assert not problems, "\n".join(problems)


WALKERS = ["anonymous", "no membership", *sorted(r.value for r in Role)]


@pytest.mark.django_db
@pytest.mark.parametrize("walker", WALKERS)
def test_nothing_of_theirs_is_reachable(world: World, walker: str) -> None:
    """Network B's objects and A's other clinic's client data, by every URL, for ``walker``."""
    started = time.monotonic()
    failures, requests = walk(world, walker)
    summary = f"{walker}: {requests} requests in {time.monotonic() - started:.1f} s"
    logger.info(summary)
    table = failures_table(failures)
    path = os.environ.get("ISOLATION_WALK_REPORT")
    if path:  # to read the whole list when many URLs leak
        with open(path, "a") as report:
            report.write(f"\n## {summary}\n{table}\n")
    assert not failures, f"{summary}\n{table}"


@pytest.mark.django_db
def test_the_judge_sees_a_marker_a_named_object_and_a_write(world: World) -> None:
    """The walk's own checks catch what they are for (a walk that judged nothing would pass)."""
    from django.http import HttpResponse

    from network import services

    owners = {"B": world.bravo}
    pattern = next(p for p in patterns_walk() if p.route == "workspace/clients/<int:pk>/")
    target = Target(pattern, "/x/", True, ["network B"])
    shown = judge(owners, target, "w", "GET", HttpResponse("a BRAVO-MARK-client b"))
    assert [f.problem for f in shown] == ["shows BRAVO-MARK-client"]
    quiet = judge(owners, target, "w", "GET", HttpResponse("nothing of theirs"))
    assert [f.problem for f in quiet] == ["answers 200 to network B's object"]
    assert judge(owners, target, "w", "GET", HttpResponse(status=404)) == []
    assert judge(owners, target, "w", "GET", HttpResponse(status=500))[0].problem == "server error"

    before = world.bravo.fingerprint()
    writes = Writes()
    post_save.connect(writes.saved, weak=False, dispatch_uid="walker-self-test")
    try:
        with transaction.atomic():
            organization = world.bravo.objects(Organization)[0]
            with connection.execute_wrapper(writes.statement):  # a bulk update sends no signal
                Organization.objects.filter(pk=organization.pk).update(phone="707-555-0000")
            assert writes.tables == {Organization._meta.db_table}
            assert world.bravo.labels(writes.tables) == {Organization._meta.label}
            changed = world.bravo.fingerprint(writes.tables)
            assert set(changed) == {Organization._meta.label}
            assert changed != {k: v for k, v in before.items() if k in changed}
            assert world.bravo.fingerprint() != before
            services.membership_grant(
                user=world.outsider,
                role=Role.CLINIC_STAFF,
                organization=organization,
                notify=False,
            )
            assert any("network.Membership" in w for w in writes.touching(world.bravo))
            transaction.set_rollback(True)
    finally:
        post_save.disconnect(dispatch_uid="walker-self-test")
