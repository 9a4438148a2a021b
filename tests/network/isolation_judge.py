"""The requests of the isolation walk (test_isolation_walk.py) and how each answer is judged.

A walker requests every URL of isolation_targets.py, GET and POST. A marker of a foreign party in
the body or headers, a 2xx answer to a URL naming one of its objects, a 5xx, or a change to any of
its rows is a ``Failure``; ``failures_table`` reports them all as one table. The owners' rows are
compared only after a pattern wrote to one of their tables (``Writes`` watches every SQL
statement).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.models.signals import post_delete, post_save
from django.test import Client

from tests.network.isolation_targets import (
    ANSWERS_WITHOUT_DISCLOSING,
    Target,
    pattern_excluded,
    patterns_walk,
    targets_all,
)
from tests.network.isolation_world import Owner, World

logger = logging.getLogger(__name__)


@dataclass
class Failure:
    url: str
    walker: str
    method: str
    status: int | str
    problem: str


def _body(response: Any) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    headers = " ".join(
        str(response.headers.get(h, "")) for h in ("Location", "Content-Disposition")
    )
    return content.decode("utf-8", "replace") + " " + headers


def _clients(world: World) -> dict[str, Client]:
    clients = {}
    for name, user in world.walkers.items():
        client = Client(HTTP_HOST=world.alpha_host, raise_request_exception=False)
        if user is not None:
            client.force_login(user)
        clients[name] = client
    return clients


# The table an INSERT, UPDATE or DELETE statement writes (Django quotes table names).
WRITTEN_TABLE = re.compile(r'^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)


class Writes:
    """Rows saved or deleted through the ORM while a pattern is walked, and every table any SQL
    statement wrote (raw SQL and bulk updates too): an owner's rows can only have changed if one
    of their tables is among them, so only those are compared."""

    def __init__(self) -> None:
        self.seen: list[tuple[models.Model, bool, str]] = []
        self.tables: set[str] = set()

    def statement(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        match = WRITTEN_TABLE.match(sql)
        if match:
            self.tables.add(match.group(1))
        return execute(sql, params, many, context)

    def saved(self, sender: Any, instance: models.Model, created: bool = False, **kw: Any) -> None:
        self.seen.append((instance, created, "created" if created else "saved"))

    def deleted(self, sender: Any, instance: models.Model, **kw: Any) -> None:
        self.seen.append((instance, False, "deleted"))

    def touching(self, owner: Owner) -> list[str]:
        found = []
        for instance, created, what in self.seen:
            model = type(instance)
            if not created and instance.pk in owner.rows.get(model, ()):
                found.append(f"{what} {model._meta.label} {instance.pk}")
                continue
            for f in model._meta.concrete_fields:
                if f.is_relation and f.related_model is not None:
                    value = getattr(instance, f.attname)
                    if value is not None and value in owner.rows.get(f.related_model, ()):
                        target = f.related_model._meta.label
                        found.append(f"{what} {model._meta.label} pointing at {target} {value}")
                        break
        return found


def judge(
    owners: dict[str, Owner], target: Target, walker: str, method: str, response: Any
) -> list[Failure]:
    failures = []
    status = response.status_code
    body = _body(response)

    def fail(problem: str) -> None:
        failures.append(Failure(target.url, walker, method, status, problem))

    shown = False
    for owner in owners.values():
        seen = sorted(
            {m for marker in owner.markers for m in re.findall(re.escape(marker) + r"[\w-]*", body)}
        )
        if seen:
            shown = True
            fail("shows " + ", ".join(seen[:4]))
    if status >= 500:
        fail("server error")
    elif (
        200 <= status < 300 and not shown and target.pattern.route not in ANSWERS_WITHOUT_DISCLOSING
    ):
        for label in target.names:
            fail(f"answers {status} to {label}'s object")
    return failures


def walk(world: World, walker: str) -> tuple[list[Failure], int]:
    """Every pattern, filled with every owner's objects, requested by ``walker`` (GET and POST).

    Each pattern's requests run in a savepoint rolled back afterwards, so a write one of them
    makes cannot hide (or cause) a failure of the next; the owners' rows are compared then."""
    client = _clients(world)[walker]
    owners = {"B": world.bravo, "A2": world.alpha_second}
    failures: list[Failure] = []
    requests = 0
    slowest: list[tuple[float, str]] = []
    writes = Writes()
    before = {key: owner.fingerprint() for key, owner in owners.items()}
    post_save.connect(writes.saved, weak=False, dispatch_uid="walker-save")
    post_delete.connect(writes.deleted, weak=False, dispatch_uid="walker-delete")
    try:
        for pattern in patterns_walk():
            if pattern_excluded(pattern):
                continue
            writes.seen.clear()
            writes.tables.clear()
            pattern_started = time.monotonic()
            with transaction.atomic(), connection.execute_wrapper(writes.statement):
                suspicious = False
                for target in targets_all(pattern, owners):
                    for method in ("get", "post"):
                        response = getattr(client, method)(target.url)
                        requests += 1
                        failures += judge(owners, target, walker, method.upper(), response)
                        location = str(response.headers.get("Location", ""))
                        if response.status_code < 400 and "login" not in location:
                            suspicious = True
                for key, owner in owners.items():
                    changed = writes.touching(owner)
                    if suspicious and not changed and writes.tables:
                        tables = writes.tables
                        then = {k: v for k, v in before[key].items() if k in owner.labels(tables)}
                        if owner.fingerprint(tables) != then:
                            changed = [f"a row of {owner.label} changed (their rows compared)"]
                    for change in changed:
                        failures.append(Failure(pattern.route, walker, "*", "-", change))
                transaction.set_rollback(True)
            slowest.append((time.monotonic() - pattern_started, pattern.route))
    finally:
        post_save.disconnect(dispatch_uid="walker-save")
        post_delete.disconnect(dispatch_uid="walker-delete")
    slowest.sort(reverse=True)
    logger.info("slowest patterns: %s", ", ".join(f"{r} {t:.1f}s" for t, r in slowest[:8]))
    return failures, requests


def failures_table(failures: list[Failure]) -> str:
    lines = [
        f"{len(failures)} failures:",
        "| URL | walker | method | status | problem |",
        "|---|---|---|---|---|",
    ]
    for f in sorted(failures, key=lambda f: (f.url, f.walker, f.method)):
        lines.append(f"| {f.url} | {f.walker} | {f.method} | {f.status} | {f.problem} |")
    return "\n".join(lines)
