"""Request ids: each request (and each Celery task) gets one that its log lines carry
(cms/logging_json.py) and that the response returns in ``X-Request-ID``.

The proxy's id is kept when it is a sane token, so a line in the proxy's log, gunicorn's access
log and the application's log can be matched. Celery tasks use their task id.

This module is named by ``LOGGING`` (its filter), so every process that configures Django's
logging, Celery workers included, imports it and connects the task signals below.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import Token
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponseBase

from cms.logging_json import RequestIdFilter, current_request_id

__all__ = ["REQUEST_ID_HEADER", "RequestIdFilter", "RequestIdMiddleware", "request_id_for"]

REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_for(*, proposed: str | None) -> str:
    """The proxy's ``proposed`` id when it is a short plain token, else a new random one (a
    header anyone can write must not smuggle text, or newlines, into the logs)."""
    if proposed and SANE_REQUEST_ID.fullmatch(proposed):
        return proposed
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets the request's id for its log lines and returns it in ``X-Request-ID``.

    The id stays set until the response is finished (``request_finished``), not only while the
    middleware runs: Django logs 4xx and 5xx responses after the middleware chain returned.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_for(proposed=request.META.get("HTTP_X_REQUEST_ID"))
        current_request_id.set(request_id)
        request.request_id = request_id  # type: ignore[attr-defined]
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _request_id_clear(**kwargs: Any) -> None:
    current_request_id.set(None)


# Between requests, a thread names none (a line logged then is no request's).
request_started.connect(_request_id_clear, dispatch_uid="handoff-request-id-start")
request_finished.connect(_request_id_clear, dispatch_uid="handoff-request-id-finish")

# A task run eagerly inside a request gets the task's id, and the request's comes back after.
_task_tokens: dict[str, Token[str | None]] = {}


def _task_started(task_id: str | None = None, **kwargs: Any) -> None:
    if task_id:
        _task_tokens[task_id] = current_request_id.set(task_id)


def _task_finished(task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        try:
            current_request_id.reset(token)
        except ValueError:  # set in another context (a thread pool): just forget the task's id
            current_request_id.set(None)


task_prerun.connect(_task_started, weak=False, dispatch_uid="handoff-request-id-task-start")
task_postrun.connect(_task_finished, weak=False, dispatch_uid="handoff-request-id-task-finish")
