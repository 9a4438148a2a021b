"""JSON log lines (``LOG_FORMAT=json``) that name their request and carry no client data.

Standard library only: gunicorn's master process loads this file for its own logs
(deploy/gunicorn.conf.py) without importing Django.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime

# The id of the request (or Celery task) being handled in this thread; None outside of one.
current_request_id: ContextVar[str | None] = ContextVar("handoff_request_id", default=None)

# Exceptions whose message can quote stored values (a row's key, a column's content): their
# message is replaced by their type. Matched by module, so no database driver is imported here.
DATABASE_ERROR_MODULES = ("django.db", "psycopg", "psycopg2", "sqlite3")
# The gunicorn access log's atom for the response's X-Request-ID (deploy/gunicorn.conf.py).
GUNICORN_REQUEST_ID_ATOM = "{x-request-id}o"

# Python's own words between chained tracebacks.
CAUSE_LINK = "\nThe above exception was the direct cause of the following exception:\n\n"
CONTEXT_LINK = "\nDuring handling of the above exception, another exception occurred:\n\n"


def message_may_quote_values(exc: BaseException) -> bool:
    """True for database errors, whose messages can quote what a row holds."""
    return type(exc).__module__.startswith(DATABASE_ERROR_MODULES)


def exception_text(exc: BaseException) -> str:
    """The traceback of ``exc`` and of the exceptions that led to it, as Python prints it, with
    the message of database errors reduced to their type."""
    chain: list[tuple[BaseException, str]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    link = ""
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append((current, link))
        if current.__cause__ is not None:
            current, link = current.__cause__, CAUSE_LINK
        elif current.__context__ is not None and not current.__suppress_context__:
            current, link = current.__context__, CONTEXT_LINK
        else:
            current = None
    parts: list[str] = []
    for item, next_link in reversed(chain):
        if item.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(item.__traceback__))
        name = f"{type(item).__module__}.{type(item).__qualname__}"
        if message_may_quote_values(item) or not str(item):
            parts.append(f"{name}\n")
        else:
            parts.append(f"{name}: {item}\n")
        if next_link:
            parts.append(next_link)
    return "".join(parts).rstrip("\n")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (the current request's or task's, or ``-``) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601, UTC), level, logger, message, request_id and the
    traceback. Nothing else of the record: Django attaches the HttpRequest (its query string,
    body and cookies) to error records, and it is never written."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": self._request_id(record),
        }
        status = getattr(record, "status_code", None)
        if isinstance(status, int):
            line["status_code"] = status
        if record.exc_info and record.exc_info[1] is not None:
            line["exc_info"] = exception_text(record.exc_info[1])
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)

    @staticmethod
    def _request_id(record: logging.LogRecord) -> str | None:
        request_id = getattr(record, "request_id", None)
        if request_id and request_id != "-":
            return str(request_id)
        if isinstance(record.args, Mapping):  # gunicorn's access log: the response's header
            atom = record.args.get(GUNICORN_REQUEST_ID_ATOM)
            if isinstance(atom, str) and atom != "-":
                return atom
        return current_request_id.get()
