"""Reading a whole HSDS 3.0 API feed: every page of ``/services`` with full service objects.

Each request has timeouts and is tried again with growing waits when the server is down or busy;
pages are read up to a size cap, and each must be a page envelope in order. Anything else stops
the whole read with ``FeedUnavailable`` and its reason: a sync applies a feed only when every
page of it came in.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings
from django.utils.translation import gettext as _

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 60.0
USER_AGENT = "Handoff HSDS feed sync"
CHUNK_BYTES = 64 * 1024


class FeedUnavailable(Exception):
    """The feed could not be read whole; ``reason`` says why, for the run's report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FeedSource:
    """Where a feed is and how to ask it (the API key is sent, never logged or shown)."""

    url: str
    api_key: str = ""
    api_key_header: str = "X-Api-Key"
    per_page: int = 100

    def __repr__(self) -> str:  # keeps the key out of tracebacks and logs
        return f"FeedSource(url={self.url!r}, per_page={self.per_page})"


@dataclass
class FetchedFeed:
    """Every page of a feed (each page's ``contents``, parsed once), and what reading them took.

    When the caller takes each page as it comes (``page_read``), ``pages`` stays empty."""

    pages: list[list[Any]] = field(default_factory=list)
    page_count: int = 0
    services: int = 0
    bytes_read: int = 0
    retries: int = 0


Sleep = Callable[[float], None]


def services_url(base: str) -> str:
    return base.rstrip("/") + "/services"


def address_check(url: str) -> None:
    """Refuse an address that is not http(s), or (unless allowed) one that resolves to a private,
    loopback or link-local address: a feed must not reach into the server's own network."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FeedUnavailable(_("The feed's address must start with http:// or https://."))
    if settings.HSDS_FEED_ALLOW_PRIVATE_ADDRESSES:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise FeedUnavailable(
            _("The feed's host %(host)s cannot be found.") % {"host": parts.hostname}
        ) from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise FeedUnavailable(
                _("The feed's host %(host)s is on a private network; feeds must be public.")
                % {"host": parts.hostname}
            )


def feed_fetch(
    source: FeedSource,
    *,
    session: requests.Session | None = None,
    sleep: Sleep = time.sleep,
    progress: Callable[[int, int], None] | None = None,
    page_read: Callable[[int, list[Any]], None] | None = None,
) -> FetchedFeed:
    """Read every page of the feed's services; raises FeedUnavailable with the reason if any page
    cannot be had (after retries), is not a page envelope, is out of order or too large, or the
    pages do not add up to the total the feed announced.

    Each page is parsed once: its ``contents`` go to ``page_read(number, contents)`` as soon as
    the page is in (so the caller need not keep them all), or else are kept in ``pages``."""
    address_check(source.url)
    session = session or requests.Session()
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if source.api_key:
        headers[source.api_key_header or "X-Api-Key"] = source.api_key
    fetched = FetchedFeed()
    total_pages: int | None = None
    total_items: int | None = None
    number = 1
    while True:
        if number > settings.HSDS_FEED_MAX_PAGES:
            raise FeedUnavailable(
                _("The feed has more than %(max)s pages; raise the page size.")
                % {"max": settings.HSDS_FEED_MAX_PAGES}
            )
        params = {
            "page": number,
            "per_page": source.per_page,
            "full_service": "true",
            "full": "true",
        }
        body = _get(session, services_url(source.url), params, headers, fetched, sleep, number)
        envelope = _envelope(body, number)
        if total_pages is None:
            total_pages, total_items = envelope["total_pages"], envelope["total_items"]
        elif (envelope["total_pages"], envelope["total_items"]) != (total_pages, total_items):
            raise FeedUnavailable(
                _(
                    "The feed changed while it was read (page 1 announced %(items)s services, "
                    "page %(page)s %(now)s); try again."
                )
                % {"items": total_items, "page": number, "now": envelope["total_items"]}
            )
        fetched.page_count = number
        fetched.services += len(envelope["contents"])
        if page_read is None:
            fetched.pages.append(envelope["contents"])
        else:
            page_read(number, envelope["contents"])
        if progress is not None:
            progress(number, total_pages)
        if envelope.get("last_page") is True or number >= total_pages or not envelope["contents"]:
            break
        number += 1
    if fetched.services != total_items:
        raise FeedUnavailable(
            _(
                "The feed announced %(total)s services but its pages held %(got)s; "
                "nothing was changed."
            )
            % {"total": total_items, "got": fetched.services}
        )
    return fetched


def _get(
    session: requests.Session,
    url: str,
    params: dict[str, Any],
    headers: dict[str, str],
    fetched: FetchedFeed,
    sleep: Sleep,
    number: int,
) -> bytes:
    """One page's bytes, tried again on a timeout, a dropped connection or a busy server."""
    attempts = settings.HSDS_FEED_RETRIES + 1
    timeout = (settings.HSDS_FEED_CONNECT_TIMEOUT, settings.HSDS_FEED_READ_TIMEOUT)
    reason = ""
    for attempt in range(attempts):
        if attempt:
            fetched.retries += 1
        wait = settings.HSDS_FEED_BACKOFF_SECONDS * (2**attempt)
        try:
            with session.get(
                url,
                params=params,
                headers=headers,
                timeout=timeout,
                stream=True,
                allow_redirects=False,
            ) as response:
                if response.status_code in RETRY_STATUSES:
                    reason = _("page %(page)s answered HTTP %(status)s") % {
                        "page": number,
                        "status": response.status_code,
                    }
                    wait = max(wait, _retry_after(response))
                elif 300 <= response.status_code < 400:
                    raise FeedUnavailable(
                        _(
                            "Page %(page)s answered with a redirect (HTTP %(status)s) to "
                            "%(location)s; register that address instead."
                        )
                        % {
                            "page": number,
                            "status": response.status_code,
                            "location": response.headers.get("Location", "?"),
                        }
                    )
                elif response.status_code != 200:
                    hint = _(" (check the API key)") if response.status_code in {401, 403} else ""
                    raise FeedUnavailable(
                        _("Page %(page)s answered HTTP %(status)s%(hint)s.")
                        % {"page": number, "status": response.status_code, "hint": hint}
                    )
                else:
                    return _body(response, fetched, number)
        except (requests.ConnectionError, requests.Timeout) as exc:
            reason = _("page %(page)s could not be read (%(error)s)") % {
                "page": number,
                "error": type(exc).__name__,
            }
        except requests.RequestException as exc:
            raise FeedUnavailable(
                _("Page %(page)s could not be requested (%(error)s).")
                % {"page": number, "error": type(exc).__name__}
            ) from exc
        if attempt + 1 < attempts:
            sleep(min(wait, MAX_RETRY_AFTER_SECONDS))
    raise FeedUnavailable(
        _("The feed is unavailable: %(reason)s, %(tries)s time(s); nothing was changed.")
        % {"reason": reason, "tries": attempts}
    )


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        return 0.0


def _body(response: requests.Response, fetched: FetchedFeed, number: int) -> bytes:
    """The page's bytes, stopping as soon as they pass the page or the feed's cap."""
    page_cap = settings.HSDS_FEED_MAX_PAGE_BYTES
    feed_left = settings.HSDS_FEED_MAX_BYTES - fetched.bytes_read
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(CHUNK_BYTES):
        size += len(chunk)
        if size > page_cap:
            raise FeedUnavailable(
                _("Page %(page)s is larger than %(mb)s MB; lower the page size.")
                % {"page": number, "mb": page_cap // (1024 * 1024)}
            )
        if size > feed_left:
            raise FeedUnavailable(
                _("The feed is larger than %(mb)s MB in all.")
                % {"mb": settings.HSDS_FEED_MAX_BYTES // (1024 * 1024)}
            )
        chunks.append(chunk)
    fetched.bytes_read += size
    return b"".join(chunks)


def _envelope(body: bytes, number: int) -> dict[str, Any]:
    """The page's envelope, checked: a JSON object with the HSDS page fields, in order."""
    try:
        data = orjson.loads(body)  # a page is megabytes: several times faster than json
    except orjson.JSONDecodeError as exc:
        raise FeedUnavailable(
            _("Page %(page)s is not valid JSON (%(error)s).") % {"page": number, "error": exc}
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("contents"), list):
        raise FeedUnavailable(
            _("Page %(page)s is not an HSDS page (no “contents” list).") % {"page": number}
        )
    for name in ("total_items", "total_pages", "page_number"):
        value = data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise FeedUnavailable(
                _("Page %(page)s has no valid “%(field)s”.") % {"page": number, "field": name}
            )
    if data["page_number"] != number:
        raise FeedUnavailable(
            _("Page %(page)s came back as page %(got)s.")
            % {"page": number, "got": data["page_number"]}
        )
    return data
