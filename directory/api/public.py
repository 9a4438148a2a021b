"""What every answer of a public, read-only API gets around its view, in this order:

1. CORS open for reads: ``OPTIONS`` (a browser's preflight) is answered here, and every answer
   to ``GET``/``HEAD``/``OPTIONS`` carries ``Access-Control-Allow-Origin: *``;
2. rate limiting per client address through the cache (``settings.HSDS_API_RATE_LIMIT``:
   ``requests`` per ``seconds``, a fixed window): over it, 429 ``rate_limited`` with
   ``Retry-After``;
3. the network of the request's host (``request.hsds_network``); a host no network serves
   answers 404 ``not_found``;
4. ``HEAD`` is answered as ``GET`` without the body;
5. caching: a 200 gets an ``ETag`` (a hash of its body) and keeps the ``Last-Modified`` the view
   set; a conditional request that matches answers 304.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import parse_http_date_safe
from django.utils.translation import gettext as _

from cms.client_address import client_ip
from network.middleware import site_network

READ_METHODS = ("GET", "HEAD", "OPTIONS")
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": ", ".join(READ_METHODS),
    "Access-Control-Allow-Headers": "Accept, Accept-Language, If-None-Match, If-Modified-Since",
    "Access-Control-Expose-Headers": "ETag, Last-Modified, Retry-After",
    "Access-Control-Max-Age": "86400",
}
View = Callable[..., HttpResponse]


def _error(status: int, code: str, message: str) -> HttpResponse:
    return HttpResponse(
        json.dumps({"error": code, "message": message}),
        status=status,
        content_type="application/json",
    )


def rate_limit() -> tuple[int, int] | None:
    """(requests, seconds) a client may make, or None when the limit is off."""
    setting = getattr(settings, "HSDS_API_RATE_LIMIT", None)
    if not setting or not setting.get("requests"):
        return None
    return int(setting["requests"]), int(setting.get("seconds", 60))


def _over_limit(request: HttpRequest, prefix: str) -> int | None:
    """Seconds until the client may ask again, or None if it may ask now."""
    limit = rate_limit()
    if limit is None:
        return None
    requests, seconds = limit
    now = time.time()
    window = int(now // seconds)
    key = f"{prefix}:rate:{client_ip(request) or 'unknown'}:{window}"
    cache.add(key, 0, timeout=seconds + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds + 1)
        count = 1
    if count <= requests:
        return None
    return max(1, int((window + 1) * seconds - now + 0.999))


def _cors(response: HttpResponse) -> HttpResponse:
    for header, value in CORS_HEADERS.items():
        response[header] = value
    return response


def public_read(view: View, *, prefix: str) -> View:
    """The view wrapped as the module says."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        reading = request.method in READ_METHODS
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
            response["Allow"] = ", ".join(READ_METHODS)
            return _cors(response)
        retry_after = _over_limit(request, prefix)
        if retry_after is not None:
            response = _error(
                429, "rate_limited", _("Too many requests: wait a moment and try again.")
            )
            response["Retry-After"] = str(retry_after)
            return _cors(response) if reading else response
        network = site_network(request)
        if network is None:
            response = _error(404, "not_found", _("No directory is published at this address."))
            return _cors(response) if reading else response
        request.hsds_network = network  # type: ignore[attr-defined]
        head = request.method == "HEAD"
        if head:
            request.method = "GET"
        response = view(request, *args, **kwargs)
        if head:
            request.method = "HEAD"
        if response.status_code == 200 and request.method in ("GET", "HEAD"):
            response = _conditional(request, response)
        if head:
            response.content = b""
        return _cors(response) if reading else response

    wrapped.csrf_exempt = True  # type: ignore[attr-defined]  # reads only: nothing to forge
    wrapped.__name__ = getattr(view, "__name__", "public_read")
    wrapped.__doc__ = view.__doc__
    return wrapped


def _conditional(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    etag = f'"{hashlib.sha256(response.content).hexdigest()[:32]}"'
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=0, must-revalidate"
    patch_vary_headers(response, ("Accept-Language",))
    last_modified = (
        parse_http_date_safe(response["Last-Modified"]) if "Last-Modified" in response else None
    )
    not_modified = get_conditional_response(
        request, etag=etag, last_modified=last_modified, response=response
    )
    return not_modified if not_modified is not None else response


def public_read_urls(
    patterns: list[URLPattern | URLResolver], *, prefix: str
) -> list[URLPattern | URLResolver]:
    """Every view under ``patterns`` wrapped with ``public_read`` (in place; returned)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            public_read_urls(pattern.url_patterns, prefix=prefix)
        else:
            pattern.callback = public_read(pattern.callback, prefix=prefix)
    return patterns
