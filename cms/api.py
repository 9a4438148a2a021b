"""The one framework every JSON API of Handoff is built on: django-ninja, with pydantic schemas.

Each surface (the referral API, the HSDS 3.0 API, FHIR) is a ``NinjaAPI`` made by ``api_make``,
so that all of them answer errors the same way, page the same way and publish the same kind of
OpenAPI schema (``<prefix>openapi.json``) and interactive docs page (``<prefix>docs``, Swagger UI
served from the project's own static files: no third-party request, no inline script).

Errors. Every error is JSON ``{"error": <code>, "message": <words for a person>}``, with
``"details"`` (a list of ``{"field", "message"}``) when input was wrong:

* 400 ``invalid``: the request could not be read (a parameter or a body field is missing, of
  the wrong type or out of range); django-ninja's 422 is answered 400 here, like every other
  bad input in the project;
* 401 ``unauthenticated``, 403 ``forbidden``: who asks, and whether they may;
* 404 ``not_found``: nothing by that id *for the asker* (another network's or organization's
  object is "not found", never "forbidden", so an id tells nothing);
* 405 ``method_not_allowed``; 409 ``conflict`` (or a more precise code: a stale version, an
  idempotency key reused with other content); 429 ``rate_limited``.

Paging. A list answers the envelope of the HSDS 3.0 API reference (``Page``): ``total_items``,
``total_pages``, ``page_number`` (from 1), ``size`` (items on this page), ``first_page``,
``last_page``, ``empty`` and ``contents``. ``page_params`` reads ``page`` (1 to ``MAX_PAGE``) and
``per_page`` (1 to ``MAX_PER_PAGE``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.docs import Swagger
from ninja.renderers import BaseRenderer

T = TypeVar("T")

MAX_PER_PAGE = 100
# Far enough for any list; beyond it an offset may not fit the database's integers.
MAX_PAGE = 1_000_000


# How ISO 8601 text of a day, or of a day and time, starts.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def iso_date_text(value: Any) -> Any:
    """A ``BeforeValidator`` for a query's day or instant: ISO 8601 text only (pydantic would
    also read a number, as seconds since 1970: "13" would be an instant of 1970)."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError(_("Give an ISO 8601 date (and time), e.g. 2026-11-24T10:00:00Z."))
    return value


class ErrorDetail(Schema):
    """One wrong field: where (a dotted path into the query or the body) and what is wrong."""

    field: str
    message: str


class ErrorOut(Schema):
    """The body of every error answer."""

    error: str
    message: str
    details: list[ErrorDetail] | None = None


class Page(Schema, Generic[T]):
    """One page of a list (the HSDS 3.0 API reference's envelope)."""

    total_items: int
    total_pages: int
    page_number: int
    size: int
    first_page: bool
    last_page: bool
    empty: bool
    contents: list[T]


class ApiError(Exception):
    """An error with its status and code, raised anywhere under an API view."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


# The code of an error django-ninja raises itself (a body that is not JSON: 400; CSRF: 403).
HTTP_ERROR_CODES = {
    400: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "rate_limited",
}

# The errors a typical operation can answer, for its ``response=`` map.
ERRORS: dict[int, type[ErrorOut]] = {400: ErrorOut, 404: ErrorOut}


# Builds an error's body from (status, code, message, details): FHIR answers OperationOutcome.
ErrorBody = Callable[[int, str, str, "list[dict[str, str]] | None"], dict[str, Any]]


def error_body(
    status: int, code: str, message: str, details: list[dict[str, str]] | None
) -> dict[str, Any]:
    """The body of an error of Handoff's own APIs (``ErrorOut``)."""
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = details
    return body


def error_response(
    api: NinjaAPI,
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, str]] | None = None,
) -> HttpResponse:
    build: ErrorBody = getattr(api, "error_body", error_body)
    return api.create_response(request, build(status, code, message, details), status=status)


def _field_path(location: Sequence[Any]) -> str:
    # ninja locates a problem as ("query", "per_page"), ("query", "filters", "status", 0) or
    # ("body", "payload", "to"): keep the part a client wrote (so name a body schema argument
    # ``payload`` and a query schema argument ``filters``).
    where = ("body", "payload", "query", "filters", "path", "header")
    parts = [str(p) for i, p in enumerate(location) if not (i < 2 and p in where)]
    return ".".join(parts) or "request"


def validation_details(errors: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"field": _field_path(e.get("loc", ())), "message": str(e.get("msg", ""))} for e in errors
    ]


def api_make(
    *,
    title: str,
    version: str,
    urls_namespace: str,
    description: str = "",
    auth: Any = None,
    docs_decorator: Callable[..., Any] | None = None,
    renderer: BaseRenderer | None = None,
    errors: ErrorBody = error_body,
) -> NinjaAPI:
    """A ``NinjaAPI`` answering errors as the module says (each handler takes ``exc: Any``:
    django-ninja types it as the exception or its class); ``errors`` builds their bodies
    (FHIR's OperationOutcome instead of ``ErrorOut``), ``renderer`` their content type."""
    api = NinjaAPI(
        title=title,
        version=version,
        description=description,
        urls_namespace=urls_namespace,
        auth=auth,
        # No "valid" badge: Swagger UI would fetch it from validator.swagger.io.
        docs=Swagger(settings={"validatorUrl": None}),
        docs_decorator=docs_decorator,
        renderer=renderer,
    )
    api.error_body = errors  # type: ignore[attr-defined]

    def on_api_error(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(api, request, exc.status, exc.code, exc.message, exc.details)

    def on_invalid(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(
            api,
            request,
            400,
            "invalid",
            _("The request is not valid: see the details."),
            validation_details(exc.errors),
        )

    def on_django_invalid(request: HttpRequest, exc: Any) -> HttpResponse:
        named = (
            exc.message_dict.items() if hasattr(exc, "error_dict") else [("request", exc.messages)]
        )
        details = [
            {"field": field, "message": str(message)}
            for field, messages in named
            for message in messages
        ]
        return error_response(api, request, 400, "invalid", details[0]["message"], details)

    def on_not_found(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(api, request, 404, "not_found", _("Not found."))

    def on_forbidden(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(api, request, 403, "forbidden", str(exc) or _("You may not do this."))

    def on_unauthenticated(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(api, request, 401, "unauthenticated", _("Sign in first."))

    def on_http_error(request: HttpRequest, exc: Any) -> HttpResponse:
        return error_response(
            api,
            request,
            exc.status_code,
            HTTP_ERROR_CODES.get(exc.status_code, "error"),
            str(exc.message),
        )

    def on_body_read(request: HttpRequest, exc: Any) -> HttpResponse:
        # A form post's body was already read as form fields (by a middleware): not JSON.
        return error_response(
            api,
            request,
            400,
            "invalid",
            _("Send a JSON object with Content-Type: application/json."),
        )

    api.add_exception_handler(ApiError, on_api_error)
    api.add_exception_handler(NinjaValidationError, on_invalid)
    api.add_exception_handler(DjangoValidationError, on_django_invalid)
    api.add_exception_handler(Http404, on_not_found)
    api.add_exception_handler(PermissionDenied, on_forbidden)
    api.add_exception_handler(AuthenticationError, on_unauthenticated)
    api.add_exception_handler(HttpError, on_http_error)
    api.add_exception_handler(RawPostDataException, on_body_read)
    return api


@dataclass(frozen=True)
class PageParams:
    """``page`` (from 1) and ``per_page`` (1 to ``MAX_PER_PAGE``), checked."""

    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_params(page: int | None, per_page: int | None, *, default: int = 50) -> PageParams:
    """Checked paging parameters; out of range answers 400 ``invalid``."""
    page = 1 if page is None else page
    per_page = default if per_page is None else per_page
    details = []
    if not 1 <= page <= MAX_PAGE:
        details.append(
            {
                "field": "page",
                "message": _("Pages are numbered from 1 to %(max)s.") % {"max": MAX_PAGE},
            }
        )
    if not 1 <= per_page <= MAX_PER_PAGE:
        details.append(
            {
                "field": "per_page",
                "message": _("Between 1 and %(max)s items a page.") % {"max": MAX_PER_PAGE},
            }
        )
    if details:
        raise ApiError(400, "invalid", details[0]["message"], details)
    return PageParams(page=page, per_page=per_page)


def page_envelope(total: int, params: PageParams, contents: list[Any]) -> dict[str, Any]:
    """The envelope around one page's ``contents`` of a list of ``total`` items."""
    total_pages = max(1, math.ceil(total / params.per_page)) if total else 0
    return {
        "total_items": total,
        "total_pages": total_pages,
        "page_number": params.page,
        "size": len(contents),
        "first_page": params.page == 1,
        "last_page": params.page >= total_pages,
        "empty": not contents,
        "contents": contents,
    }


__all__ = [
    "ERRORS",
    "MAX_PAGE",
    "MAX_PER_PAGE",
    "ApiError",
    "ErrorDetail",
    "ErrorOut",
    "Page",
    "PageParams",
    "api_make",
    "error_body",
    "error_response",
    "iso_date_text",
    "page_envelope",
    "page_params",
    "validation_details",
]
