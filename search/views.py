"""Search pages: the public directory search and autocomplete.

Thin: parse the URL into a query, call the selector, render. htmx requests get only the
results fragment; without JavaScript the same form submits as a plain GET.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from network.middleware import TenantRequest

from .pages import search_network, search_response
from .selectors import service_suggest


@require_GET
def public_search(request: TenantRequest) -> HttpResponse:
    """The public directory search of the network whose site answers (no login, no client data)."""
    return search_response(request, staff=False)


@require_GET
def suggest(request: TenantRequest) -> HttpResponse:
    """Autocomplete: service names and categories for what was typed (HTML options for htmx)."""
    network = search_network(request)
    typed = request.GET.get("q", "")[:100]
    suggestions = service_suggest(network=network, prefix=typed)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "search/_suggestions.html", {"suggestions": suggestions})
    return JsonResponse(
        {"suggestions": [{"label": s.label, "kind": s.kind, "value": s.value} for s in suggestions]}
    )
