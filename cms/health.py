"""Liveness and readiness probes: ``/healthz`` and ``/readyz``.

Answered by a middleware placed before every other that could refuse or redirect the request:
an orchestrator probes over plain HTTP with the pod's address as Host, which ALLOWED_HOSTS
(CommonMiddleware, CSRF) would answer with 400, SECURE_SSL_REDIRECT with a redirect, and the
tenant middleware with a lookup in the database. Nothing here reads the Host header.

The bodies name the checks only: no exception text, host or URL (an error message can carry a
broker's password in its URL).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase

logger = logging.getLogger(__name__)

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"
PROBE_PATHS = frozenset({LIVENESS_PATH, READINESS_PATH})
# Seconds the broker and Elasticsearch may take to answer a probe.
PROBE_TIMEOUT_SECONDS = 2
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


def database_check() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def cache_check() -> str:
    cache = caches["default"]
    key, value = f"handoff:readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    if cache.get(key) != value:
        raise RuntimeError("the cache did not return what was stored")
    cache.delete(key)
    return OK


def broker_check() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:  # tasks run in-process: no broker to reach
        return SKIPPED
    from cms.celery import app

    with app.connection_for_write(connect_timeout=PROBE_TIMEOUT_SECONDS) as connection:
        # One quick retry: a probe that waits longer than its own timeout tells nothing.
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=PROBE_TIMEOUT_SECONDS
        )
    return OK


def elasticsearch_check() -> str:
    urls = [url.strip() for url in settings.ELASTICSEARCH_URL.split(",") if url.strip()]
    if not urls:
        return SKIPPED
    from elasticsearch import Elasticsearch

    client = Elasticsearch(urls, request_timeout=PROBE_TIMEOUT_SECONDS, max_retries=0)
    try:
        if not client.ping():
            raise RuntimeError("Elasticsearch did not answer the ping")
    finally:
        client.close()
    return OK


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": database_check,
    "cache": cache_check,
    "broker": broker_check,
    "elasticsearch": elasticsearch_check,
}


# ``/readyz?check=database``: only the named checks (comma-separated, or the parameter repeated).
# What takes a web pod out of a Kubernetes Service asks for the database alone: the cache (a miss
# while Redis restarts, cms/cache.py), the broker (notifications wait in the outbox) and search
# (the database answers) are shared by every pod, and a probe failing on them would take all
# pods out at once for something each of them can serve through.
CHECK_PARAMETER = "check"


def checks_asked(request: HttpRequest) -> list[str] | None:
    """The checks ``?check=`` names, in READINESS_CHECKS' order; None: every check.

    Raises ValueError when a name is not a check's (or none is named)."""
    values = request.GET.getlist(CHECK_PARAMETER)
    if not values:
        return None
    names = {name.strip() for value in values for name in value.split(",") if name.strip()}
    if not names or not names <= READINESS_CHECKS.keys():
        raise ValueError("unknown check")
    return [name for name in READINESS_CHECKS if name in names]


def readiness(names: list[str] | None = None) -> dict[str, str]:
    """Each check's outcome (of ``names``, else of all): ``ok``, ``failed`` or ``skipped`` (not
    configured here)."""
    outcomes: dict[str, str] = {}
    for name, check in READINESS_CHECKS.items():
        if names is not None and name not in names:
            continue
        try:
            outcomes[name] = check()
        except Exception as exc:
            # The type only: messages of connection errors can carry URLs with passwords.
            logger.warning("Readiness check %s failed: %s", name, type(exc).__name__)
            outcomes[name] = FAILED
    return outcomes


def liveness_response() -> HttpResponse:
    response = HttpResponse("ok", content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def _json_response(body: dict[str, object], status: int) -> HttpResponse:
    response = HttpResponse(json.dumps(body), content_type="application/json", status=status)
    response["Cache-Control"] = "no-store"
    return response


def readiness_response(request: HttpRequest) -> HttpResponse:
    try:
        names = checks_asked(request)
    except ValueError:
        # What was asked is not repeated: this answer carries no header of the later middleware.
        message = f"?{CHECK_PARAMETER}= names one or more of: {', '.join(READINESS_CHECKS)}."
        return _json_response({"status": "bad request", "message": message}, 400)
    checks = readiness(names)
    ready = FAILED not in checks.values()
    return _json_response(
        {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
    )


class HealthMiddleware:
    """Answers ``/healthz`` (the process runs: touches nothing) and ``/readyz`` (the database,
    cache, broker and search answer; ``?check=`` names fewer) on any host, before host validation
    and the HTTPS redirect."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        path = request.path_info.rstrip("/")
        if path in PROBE_PATHS and request.method in {"GET", "HEAD"}:
            if path == LIVENESS_PATH:
                return liveness_response()
            return readiness_response(request)
        return self.get_response(request)
