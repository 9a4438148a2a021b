"""Refuses requests whose path, query or form fields carry a NUL character.

PostgreSQL cannot store or compare text containing NUL, so such a value reaching a query would
be a server error; no person types one. Forms still name the field (Django's CharField refuses
NUL); this is the safety net for everything read straight from ``request.GET``/``request.POST``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

NUL = "\x00"
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def nul_field(request: HttpRequest) -> str | None:
    """The name of the first query parameter or form field holding a NUL ("" for the path)."""
    if NUL in request.path:
        return ""
    sources = [request.GET]
    if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
        sources.append(request.POST)
    for source in sources:
        for key, values in source.lists():
            if NUL in key or any(NUL in value for value in values):
                return key.replace(NUL, "")
    return None


def nul_refused(request: HttpRequest, field: str) -> HttpResponse:
    """The 400 answer: JSON for the APIs, a page for people."""
    if field:
        message = _("“%(field)s” cannot contain null characters.") % {"field": field}
    else:
        message = _("The address cannot contain null characters.")
    wants_json = "/api/" in request.path or "application/json" in request.headers.get("Accept", "")
    if wants_json:
        # The APIs' error (cms.api): the wrong parameter in ``details``.
        return JsonResponse(
            {
                "error": "invalid",
                "message": message,
                "details": [{"field": field or "path", "message": message}],
            },
            status=400,
        )
    return HttpResponse(
        render_to_string("400.html", {"message": message}, request=None), status=400
    )


class NulCharacterMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = nul_field(request)
        if field is not None:
            return nul_refused(request, field)
        return self.get_response(request)
