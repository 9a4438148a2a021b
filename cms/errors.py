"""The 500 handler: 503 with ``Retry-After`` while the database cannot be reached.

Django turns an exception raised anywhere (a view or any middleware, e.g. the tenant lookup)
into a response per middleware, calling ``handler500`` inside its ``except`` block: the
exception being handled is in ``sys.exc_info()``, which a middleware's ``process_exception``
would not see for errors raised by other middleware.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.defaults import server_error as django_server_error

RETRY_AFTER_SECONDS = 30
# What a task retries on while the database is restarting or failing over: its work is lost
# otherwise (an index refresh, a geocode, a document rebuild), since nothing queues it again.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
# No template, translation or context processor: each could need the database that is down.
UNAVAILABLE_PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>Handoff is briefly unavailable</title></head>\n<body><h1>Handoff is briefly "
    "unavailable</h1>\n<p>Please try again in a minute."
    "</p></body></html>\n"
)


def database_unreachable(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what caused it) says the database could not be reached or its
    connection broke, rather than that the code or the data is wrong."""
    while exc is not None:
        if isinstance(exc, DATABASE_UNREACHABLE):
            return True
        exc = exc.__cause__
    return False


def database_unavailable_response() -> HttpResponse:
    response = HttpResponse(UNAVAILABLE_PAGE, status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """Django's 500 page, or the short 503 page when the database is unreachable."""
    if database_unreachable(sys.exc_info()[1]):
        return database_unavailable_response()
    return django_server_error(request, template_name=template_name)
