"""The directory search page, shared by the public search (``search.views``) and the clinic
staff's search to refer a client (``referrals.views.search``): parse the URL into a query, call
the selector, render. htmx requests get only the results fragment; without JavaScript the same
form submits as a plain GET."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import escape
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from cms.languages import language_name
from consent.selectors import listings_taking_referrals
from directory.models import CapacityStatus, TaxonomyTerm
from network.middleware import TenantRequest
from network.models import Network

from .query import DEFAULT_RADIUS_MILES, SearchQuery, parse_search
from .results import CATEGORY_NAMES
from .selectors import network_categories, service_search

RADIUS_CHOICES = (2, 5, 10, 25, 50, 100)


def search_network(request: TenantRequest) -> Network:
    if request.network is None:
        raise Http404("No directory answers at this address.")
    return request.network


def search_response(
    request: TenantRequest, *, staff: bool, referral_client: Any | None = None
) -> HttpResponse:
    """The search page (or, for htmx, its results) for the network whose site answers; for
    ``staff``, with a refer action on each hit and ``referral_client`` (the client being
    referred, if any) kept with the search."""
    network = search_network(request)
    now = timezone.now()
    types = list(
        TaxonomyTerm.objects.filter(network=network).order_by("name").values_list("code", "name")
    )
    parsed = parse_search(
        request.GET,
        now=now,
        service_type_codes=[code for code, _ in types],
        tz=ZoneInfo(network.time_zone),
    )
    query = parsed.query
    results = None if query.is_empty else service_search(network=network, query=query, now=now)
    params = query.to_params()
    context: dict[str, Any] = {
        "staff": staff,
        "network": network,
        "query": query,
        "errors": parsed.errors,
        "results": results,
        "params": urlencode(params),
        "page_url": _page_urls(query, results),
        "categories": _choices(
            [(code, str(name)) for code, name in CATEGORY_NAMES.items()],
            query.categories,
            results,
            "category",
        ),
        "types": _choices(types, query.service_types, results, "type"),
        # The ~100 checkboxes are written here rather than by a template loop (a third of the
        # page's rendering time); see _checkboxes.
        "language_text": ", ".join(language_name(code) for code in query.languages),
        "radius_choices": RADIUS_CHOICES,
        "radius": int(query.radius_miles or DEFAULT_RADIUS_MILES),
        "tile_url": settings.SEARCH_MAP_TILE_URL if settings.SEARCH_MAP_TILES else "",
        "tile_attribution": settings.SEARCH_MAP_ATTRIBUTION,
        "map_points": _map_points(results),
        "capacity_not_accepting": CapacityStatus.NOT_ACCEPTING,
        "form_action": request.path,
        "referable": _referable_agencies(request, results) if staff else frozenset(),
        "referral_client": referral_client if staff else None,
        "did_you_mean_url": _did_you_mean_url(query, results),
        "active_filters": _active_filters(query, dict(types)) if results is not None else [],
        "wider_url": _wider_url(query),
        "browse_needs": _browse_needs(network) if results is not None and not results.total else [],
    }
    if context["referral_client"] is not None:
        # The client being referred stays with the search (pages, links, the address bar).
        client = urlencode({"client": context["referral_client"].pk})
        params = [*params, ("client", str(context["referral_client"].pk))]
        context["params"] = urlencode(params)
        context["page_url"] = {rel: f"{url}&{client}" for rel, url in context["page_url"].items()}
        for name in ("did_you_mean_url", "wider_url"):
            if context[name]:
                context[name] = f"{context[name]}&{client}"
        context["active_filters"] = [
            (label, f"{url}&{client}" if url != "?" else f"?{client}")
            for label, url in context["active_filters"]
        ]
        context["browse_needs"] = [
            (code, name, f"{url}&{client}") for code, name, url in context["browse_needs"]
        ]
    if not request.htmx:  # type: ignore[attr-defined]
        context["category_boxes"] = _checkboxes("category", context["categories"])
        context["type_boxes"] = _checkboxes("type", context["types"])
        return render(request, "search/search.html", context)
    context["counts_oob"] = _counts_oob("category", context["categories"]) + _counts_oob(
        "type", context["types"]
    )
    response = render(request, "search/_results.html", context)
    # The address bar shows the search as a clean, shareable URL (no empty fields).
    response["HX-Push-Url"] = request.path + (f"?{context['params']}" if params else "")
    return response


def _referable_agencies(request: TenantRequest, results: Any) -> frozenset[int]:
    """Agency listings on this page that take electronic referrals from the acting clinic;
    the others show "contact directly"."""
    if results is None or request.organization is None or not results.hits:
        return frozenset()
    return listings_taking_referrals(
        clinic=request.organization, listing_ids={hit.agency_id for hit in results.hits}
    )


def _choices(
    options: Iterable[tuple[str, str]], chosen: tuple[str, ...], results: Any, facet: str
) -> list[tuple[str, str, bool, int | None]]:
    """Filter checkboxes: (value, label, checked, how many results have it, or None)."""
    counts = {f.value: f.count for f in results.facets.get(facet, [])} if results else {}
    return [
        (code, str(name), code in chosen, counts.get(code, 0) if results else None)
        for code, name in options
    ]


def _count_text(count: int | None) -> str:
    return "" if count is None else f"({count})"


def _checkboxes(name: str, choices: list[tuple[str, str, bool, int | None]]) -> SafeString:
    """The filter's checkboxes, each with the count of results that have it (markup identical
    to what a template loop would write; every value escaped)."""
    return mark_safe(  # noqa: S308 - every interpolated value is escaped here
        "\n".join(
            f'<label class="check"><input type="checkbox" name="{name}" '
            f'value="{escape(code)}"{" checked" if checked else ""}> {escape(label)} '
            f'<span id="count-{name}-{escape(code)}" class="count">{_count_text(count)}</span>'
            "</label>"
            for code, label, checked, count in choices
        )
    )


def _counts_oob(name: str, choices: list[tuple[str, str, bool, int | None]]) -> SafeString:
    """For htmx: the counts beside the filters, swapped in place (out of band)."""
    return mark_safe(  # noqa: S308 - every interpolated value is escaped here
        "".join(
            f'<span id="count-{name}-{escape(code)}" class="count" hx-swap-oob="true">'
            f"{_count_text(count)}</span>"
            for code, _label, _checked, count in choices
        )
    )


def _page_urls(query: Any, results: Any) -> dict[str, str]:
    if results is None:
        return {}
    urls = {}
    if results.has_previous:
        urls["previous"] = "?" + urlencode(query.with_page(query.page - 1).to_params())
    if results.has_next:
        urls["next"] = "?" + urlencode(query.with_page(query.page + 1).to_params())
    return urls


def _map_points(results: Any) -> list[dict[str, Any]]:
    if results is None:
        return []
    return [
        {
            "lat": hit.latitude,
            "lng": hit.longitude,
            "name": hit.service_name,
            "agency": hit.agency_shown,
            "url": hit.url,
            "id": hit.dom_id,
        }
        for hit in results.hits
        if hit.latitude is not None and hit.longitude is not None
    ]


def _url(query: SearchQuery) -> str:
    return "?" + urlencode(query.to_params())


def _did_you_mean_url(query: SearchQuery, results: Any) -> str:
    """The same search with the misspelt words corrected ("Did you mean: food pantry?")."""
    if results is None or not results.did_you_mean:
        return ""
    return _url(replace(query, text=results.did_you_mean, page=1))


def _wider_url(query: SearchQuery) -> str:
    """The same search over the next wider distance, if there is one."""
    if query.near is None:
        return ""
    wider = [miles for miles in RADIUS_CHOICES if miles > (query.radius_miles or 0)]
    return _url(replace(query, radius_miles=float(wider[0]), page=1)) if wider else ""


def _active_filters(query: SearchQuery, type_names: dict[str, str]) -> list[tuple[str, str]]:
    """Each filter in force, by name, and the search without it (to remove it)."""
    found: list[tuple[str, SearchQuery]] = []
    first = replace(query, page=1)
    for code in query.categories:
        rest = tuple(c for c in query.categories if c != code)
        found.append((str(CATEGORY_NAMES.get(code, code)), replace(first, categories=rest)))
    for code in query.service_types:
        rest = tuple(c for c in query.service_types if c != code)
        found.append((type_names.get(code, code), replace(first, service_types=rest)))
    for code in query.languages:
        rest = tuple(c for c in query.languages if c != code)
        label = _("Speaks %(language)s") % {"language": language_name(code)}
        found.append((label, replace(first, languages=rest)))
    if query.open_now:
        found.append(
            (
                _("Open now") if not query.open_at_label else _("Open at the time chosen"),
                replace(first, open_now=False, open_at=None, open_at_label=""),
            )
        )
    if query.free_only:
        found.append((_("Free"), replace(first, free_only=False)))
    if query.accepting_only:
        found.append((_("Taking new clients"), replace(first, accepting_only=False)))
    if query.client_age is not None:
        label = _("Age %(age)s") % {"age": query.client_age}
        found.append((label, replace(first, client_age=None)))
    if query.near is not None:
        label = _("Near %(place)s") % {"place": query.near.label}
        found.append((label, replace(first, near=None, radius_miles=None, sort="relevance")))
    return [(label, _url(rest)) for label, rest in found]


def _browse_needs(network: Network) -> list[tuple[str, str, str]]:
    """(code, name, search URL) of the needs the network's services meet, for a search that
    found nothing."""
    codes = network_categories(network=network, codes=CATEGORY_NAMES)
    return [
        (code, str(name), "?" + urlencode({"category": code}))
        for code, name in CATEGORY_NAMES.items()
        if code in codes
    ]
