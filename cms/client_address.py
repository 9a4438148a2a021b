"""Where a request came from, for the access log: the client's address as the trusted proxies
in front of the application saw it.

Behind a reverse proxy (nginx, a load balancer) and gunicorn, ``REMOTE_ADDR`` is the proxy.
Each proxy appends the address it received the request from to ``X-Forwarded-For``; anything
left of that was written by the client and proves nothing. So the header is read only when
``REMOTE_ADDR`` is one of ``HANDOFF_TRUSTED_PROXIES`` (addresses or networks), from the right,
past every trusted proxy, to the first address that is not one: the client.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _trusted(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def trusted_proxies() -> tuple[Network, ...]:
    """``HANDOFF_TRUSTED_PROXIES`` parsed (a setting naming something else fails the check)."""
    return _trusted(tuple(getattr(settings, "HANDOFF_TRUSTED_PROXIES", ())))


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address of the client that sent ``request``; None when it cannot be told."""
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    proxies = trusted_proxies()
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    while any(peer in proxy for proxy in proxies):
        if not hops:
            break  # the trusted proxy itself sent the request (a health check)
        previous = _address(hops.pop())
        if previous is None:
            break  # an empty or garbled entry: the last address known is as far as it goes
        peer = previous
    return str(peer)


def client_user_agent(request: HttpRequest) -> str:
    """The browser's own description, cut to what the access log keeps."""
    return request.META.get("HTTP_USER_AGENT", "")[:300]
