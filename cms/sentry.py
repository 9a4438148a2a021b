"""Sentry, optional (``SENTRY_DSN``), scrubbed of client data before anything leaves.

Sentry's own switches come first (no PII, no request bodies, no local variables); the
``before_send`` hooks then keep only what is needed to find a bug, by allowlist: the request's
method, path and a few headers, the user's id, exception types and stack frames, and breadcrumbs
reduced to what happened (their messages and data can quote what a person typed).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cms.logging_json import DATABASE_ERROR_MODULES

# Headers that say nothing about the person (no cookies, no Referer: it carries query strings).
SAFE_HEADERS = frozenset(
    {"accept", "accept-language", "content-length", "content-type", "host", "user-agent"}
    | {"x-request-id"}
)
SAFE_EVENT_KEYS = frozenset(
    {
        "event_id", "timestamp", "start_timestamp", "level", "logger", "platform", "release",
        "environment", "server_name", "dist", "transaction", "transaction_info", "type",
        "fingerprint", "tags", "modules", "sdk", "exception", "threads", "breadcrumbs",
        "request", "user", "contexts", "extra", "logentry", "message", "spans", "measurements",
    }
)  # fmt: skip
SAFE_CONTEXTS = frozenset({"app", "device", "os", "runtime", "trace"})
SAFE_BREADCRUMB_KEYS = frozenset({"type", "category", "level", "timestamp"})
SAFE_BREADCRUMB_DATA = frozenset({"method", "status_code", "reason"})
# SQL breadcrumbs and spans carry the statement with placeholders; the values are in ``data``.
SQL_CATEGORIES = frozenset({"query"})
SAFE_SPAN_KEYS = frozenset(
    {"trace_id", "span_id", "parent_span_id", "same_process_as_parent", "op", "description",
     "status", "start_timestamp", "timestamp", "tags", "origin"}
)  # fmt: skip


def url_without_query(url: str) -> str:
    """``url`` with no query string or fragment (search terms, names, tokens)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _is_database_error(value: dict[str, Any]) -> bool:
    module = str(value.get("module") or "")
    return module.startswith(DATABASE_ERROR_MODULES)


def _frames_scrubbed(stacktrace: Any) -> None:
    if isinstance(stacktrace, dict):
        for frame in stacktrace.get("frames") or []:
            if isinstance(frame, dict):
                frame.pop("vars", None)


def _exceptions_scrubbed(container: Any) -> None:
    values = container.get("values") if isinstance(container, dict) else None
    for value in values or []:
        if not isinstance(value, dict):
            continue
        if _is_database_error(value):
            value["value"] = str(value.get("type") or "DatabaseError")
        _frames_scrubbed(value.get("stacktrace"))


def _breadcrumb_scrubbed(crumb: dict[str, Any]) -> dict[str, Any]:
    kept = {key: crumb[key] for key in SAFE_BREADCRUMB_KEYS if key in crumb}
    if crumb.get("category") in SQL_CATEGORIES and isinstance(crumb.get("message"), str):
        kept["message"] = crumb["message"]
    data = crumb.get("data")
    if isinstance(data, dict):
        safe = {key: data[key] for key in SAFE_BREADCRUMB_DATA if key in data}
        if isinstance(data.get("url"), str):
            safe["url"] = url_without_query(data["url"])
        if safe:
            kept["data"] = safe
    return kept


def _request_scrubbed(request: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    if isinstance(request.get("method"), str):
        kept["method"] = request["method"]
    if isinstance(request.get("url"), str):
        kept["url"] = url_without_query(request["url"])
    headers = request.get("headers")
    if isinstance(headers, dict):
        kept["headers"] = {k: v for k, v in headers.items() if k.lower() in SAFE_HEADERS}
    return kept


def _span_scrubbed(span: dict[str, Any]) -> dict[str, Any]:
    kept = {key: span[key] for key in SAFE_SPAN_KEYS if key in span}
    description = kept.get("description")
    if isinstance(description, str) and str(kept.get("op", "")).startswith("http"):
        method, _, url = description.partition(" ")
        kept["description"] = f"{method} {url_without_query(url)}" if url else method
    return kept


def event_scrubbed(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with nothing a person typed or a row held: see the module's docstring."""
    event = {key: value for key, value in event.items() if key in SAFE_EVENT_KEYS}
    if isinstance(event.get("request"), dict):
        event["request"] = _request_scrubbed(event["request"])
    user = event.get("user")
    event["user"] = {"id": user["id"]} if isinstance(user, dict) and "id" in user else {}
    if not event["user"]:
        del event["user"]
    _exceptions_scrubbed(event.get("exception"))
    threads = event.get("threads")
    for thread in (threads.get("values") if isinstance(threads, dict) else None) or []:
        if isinstance(thread, dict):
            _frames_scrubbed(thread.get("stacktrace"))
    breadcrumbs = event.get("breadcrumbs")
    crumbs = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    if isinstance(crumbs, list):
        event["breadcrumbs"] = {
            "values": [_breadcrumb_scrubbed(c) for c in crumbs if isinstance(c, dict)]
        }
    if isinstance(event.get("contexts"), dict):
        event["contexts"] = {k: v for k, v in event["contexts"].items() if k in SAFE_CONTEXTS}
    extra = event.pop("extra", None)
    job = extra.get("celery-job") if isinstance(extra, dict) else None
    if isinstance(job, dict) and isinstance(job.get("task_name"), str):
        # The task's name only: its arguments can be a client's details.
        event["extra"] = {"celery-job": {"task_name": job["task_name"]}}
    logentry = event.get("logentry")
    if isinstance(logentry, dict):
        # The message's template only: the values filled in can be anything.
        event["logentry"] = {"message": logentry.get("message")}
    if isinstance(event.get("spans"), list):
        event["spans"] = [_span_scrubbed(s) for s in event["spans"] if isinstance(s, dict)]
    return event


def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    """Sentry's ``before_send`` and ``before_send_transaction``: the event, scrubbed."""
    return event_scrubbed(event)


def sentry_options(
    *, dsn: str, environment: str, release: str | None, traces_sample_rate: float
) -> dict[str, Any]:
    """The keyword arguments of ``sentry_sdk.init`` for this project."""
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    return {
        "dsn": dsn,
        "environment": environment,
        "release": release or None,
        "integrations": [DjangoIntegration(), CeleryIntegration()],
        "send_default_pii": False,
        "max_request_body_size": "never",
        "include_local_variables": False,
        "traces_sample_rate": traces_sample_rate,
        "before_send": before_send,
        "before_send_transaction": before_send,
    }


def sentry_init(
    *, dsn: str, environment: str, release: str | None = None, traces_sample_rate: float = 0.0
) -> None:
    """Start sending errors (and, when sampled, traces) to Sentry, scrubbed."""
    import sentry_sdk

    sentry_sdk.init(
        **sentry_options(
            dsn=dsn,
            environment=environment,
            release=release,
            traces_sample_rate=traces_sample_rate,
        )
    )
