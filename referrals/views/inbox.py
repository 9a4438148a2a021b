"""The agency portal's referral inbox: its tabs, and the referrals each lists.

Every action is a plain form; htmx, where the page loads it, only swaps the part that changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from network.decorators import member_required
from network.middleware import TenantRequest, is_htmx
from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.models import STATUS_LABELS, URGENCY_LABELS, Referral, Urgency
from referrals.selectors.inbox import (
    CLOSED_TABS,
    INBOX_TABS,
    InboxSearch,
    referral_inbox_counts_kept,
    referral_inbox_languages,
    referral_inbox_rows,
    referral_inbox_search,
    referral_inbox_search_log,
    referral_inbox_tab,
    referral_inbox_tab_keys,
)
from referrals.views.referral import client_ip, language_name
from referrals.views.rows import (
    URL_SLOT,
    Ages,
    CountedPaginator,
    Labels,
    Times,
    row_format,
    row_template,
)

INBOX_PAGE_SIZE = 25
TAB_LABELS = {
    "new": gettext_lazy("New"),
    "overdue": gettext_lazy("Overdue"),
    "in_progress": gettext_lazy("In progress"),
    "waiting": gettext_lazy("Waiting on the client"),
    "closed": gettext_lazy("Closed"),
    "all": gettext_lazy("All"),
}

# --- inbox -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    """One referral as an inbox row: its due date, whether that has passed, and the client's
    language when the disclosure shows it ("" otherwise)."""

    referral: Referral
    due_at: datetime | None
    overdue: bool
    language: str


def receiving_organization(request: TenantRequest) -> Organization:
    """The acting organization if the user works the referrals it receives; 403 otherwise."""
    organization = request.organization
    if (
        organization is None
        or not organization.receives_referrals
        or not user_has_org_perm(
            request.user,
            OrgPerm.RECEIVE_REFERRALS,
            organization,
            checker=request.permission_checker,
        )
    ):
        raise PermissionDenied(
            _("The referral inbox is for an agency's staff; switch to your agency to see it.")
        )
    return organization


@require_http_methods(["GET", "POST"])
@member_required
def referral_inbox(request: TenantRequest) -> HttpResponse:
    """The referrals the acting agency receives, a tab at a time, 25 a page.

    The tab and the order are in the address. The search (a client's name or a referral number)
    is posted, never put in the address, so a name reaches neither the browser's history nor a
    server's access log; with a search on, the tabs, the order and the pages post it again."""
    organization = receiving_organization(request)
    posted = request.method == "POST"
    query = request.POST.get("q", "") if posted else ""
    search = InboxSearch.parse(query)
    tab = request.GET.get("tab", "")
    if tab not in INBOX_TABS:
        # A search from the box looks through every referral; a tab narrows it.
        tab = "all" if search is not None else "new"
    descending = request.GET.get("sort") == "-due"
    now = timezone.now()
    # Which tab a referral is on, and whether it is overdue, are read to the minute, so that the
    # tabs' counts can be kept for that minute (until a referral of the agency changes).
    as_of = now.replace(second=0, microsecond=0)
    # The permission is read once (by receiving_organization); the selectors ask the cache.
    checker = request.permission_checker
    counts = referral_inbox_counts_kept(
        user=request.user, organization=organization, now=as_of, checker=checker
    )
    page_number = request.POST.get("page") if posted else request.GET.get("page")
    on_tab: dict[str, Any] = {
        "user": request.user,
        "organization": organization,
        "tab": tab,
        "now": as_of,
        "descending": descending,
        "checker": checker,
    }
    listed: list[Any]
    if search is None:
        # A page of ids sorted on the referral table alone, then those rows with their joins;
        # the tab's count is already known.
        keys = referral_inbox_tab_keys(**on_tab)
        page = CountedPaginator(keys, INBOX_PAGE_SIZE, count=counts[tab]).get_page(page_number)
        listed = cast(
            list[Any],  # annotated with due_at
            referral_inbox_rows(
                user=request.user,
                organization=organization,
                keys=list(page.object_list),
                checker=checker,
            ),
        )
    else:
        referrals = referral_inbox_search(
            referral_inbox_tab(**on_tab),
            search=search,
            organization=organization,
            at=now,
        )
        page = Paginator(referrals, INBOX_PAGE_SIZE).get_page(page_number)
        listed = list(page.object_list)
    ip_address = client_ip(request)
    user_agent = request.META.get("HTTP_USER_AGENT", "")
    if search is not None and search.words:
        referral_inbox_search_log(
            referrals=listed,
            organization=organization,
            user=request.user,
            at=now,
            ip_address=ip_address,
            user_agent=user_agent,
        )
    languages = referral_inbox_languages(
        referrals=listed,
        organization=organization,
        user=request.user,
        at=now,
        ip_address=ip_address,
        user_agent=user_agent,
    )
    rows = [
        InboxRow(
            referral=referral,
            due_at=referral.due_at,
            overdue=referral.due_at is not None and referral.due_at < as_of,
            language=language_name(languages[referral.pk]) if languages.get(referral.pk) else "",
        )
        for referral in listed
    ]
    sort = "-due" if descending else "due"

    def link(**params: str) -> str:
        return "?" + urlencode(params)

    context = {
        "tab": tab,
        "tabs": [
            (key, label, counts[key], link(tab=key, sort=sort)) for key, label in TAB_LABELS.items()
        ],
        "sort": sort,
        "sort_toggle": link(tab=tab, sort="due" if descending else "-due"),
        "by_closing": tab in CLOSED_TABS,
        "q": (" ".join(search.words) or f"#{search.number}") if search is not None else "",
        "here": link(tab=tab, sort=sort),
        # A new search looks through every referral, in the order chosen.
        "search_action": link(sort=sort),
        "page": page,
        "rows": rows,
        "rows_html": rows_html(rows),
    }
    if is_htmx(request):
        return render(request, "referrals/portal/_inbox_list.html", context)
    return render(request, "referrals/portal/inbox.html", context)


# An inbox row: the labels (the data-label a phone shows beside each cell) are put in once a
# page; the fields, escaped, a row.
INBOX_ROW = (
    '<tr class="{row_class}" data-testid="inbox-row">\n'
    '      <th scope="row" data-label="{referral_label}"><a href="{url}">#{pk}</a></th>\n'
    '      <td data-label="{service_label}">{service}</td>\n'
    '      <td data-label="{from_label}">{sender}</td>\n'
    '      <td data-label="{urgency_label}">{urgency}</td>\n'
    '      <td data-label="{status_label}">{status}</td>\n'
    '      <td data-label="{sent_label}"><time datetime="{sent_iso}">{sent_ago}</time></td>\n'
    '      <td data-label="{due_label}">{due}</td>\n'
    '      <td data-label="{language_label}" data-testid="language">{language}</td>\n'
    "    </tr>"
)


def rows_html(rows: list[InboxRow]) -> SafeString:
    """The inbox table's rows, written here rather than by a template loop (the page's hot
    part: a template resolves some thirty variables and filters a row). Dates are in the
    current time zone (the network's, as the template's ``date`` filter shows them)."""
    template = row_template(
        INBOX_ROW,
        referral_label=_("Referral"),
        service_label=_("Service"),
        from_label=_("From"),
        urgency_label=_("Urgency"),
        status_label=_("Status"),
        sent_label=_("Sent"),
        due_label=_("Due"),
        language_label=_("Client's language"),
    )
    times = Times()
    ages = Ages()
    statuses, urgencies = Labels(STATUS_LABELS), Labels(URGENCY_LABELS)
    overdue_mark = format_html(
        ' <strong class="overdue" data-testid="overdue">{}</strong>', _("overdue")
    )
    closed_word = _("closed")
    # One address reversed; each row's differs only by its number.
    url_of = reverse("referrals:referral_detail", args=[URL_SLOT]).replace
    written = []
    for row in rows:
        referral = row.referral
        urgency: str | SafeString = urgencies(referral.urgency)
        if referral.urgency == Urgency.URGENT:
            urgency = format_html('<strong class="urgent">{}</strong>', urgency)
        due_cell: str | SafeString
        if row.due_at is not None:
            due_cell = SafeString(times.html(row.due_at) + (overdue_mark if row.overdue else ""))
        elif referral.closed_at is not None:
            due_cell = format_html(
                '<span data-testid="closed-at">{} {}</span>',
                closed_word,
                times.html(referral.closed_at),
            )
        else:
            due_cell = "\u2014"
        written.append(
            row_format(
                template,
                row_class="is-overdue" if row.overdue else "",
                url=url_of(str(URL_SLOT), str(referral.pk)),
                pk=referral.pk,
                service=referral.service_name,
                sender=referral.sender.name,
                urgency=urgency,
                status=statuses(referral.status),
                sent_iso=times.local(referral.created_at).isoformat(),
                sent_ago=ages.ago(referral.created_at),
                due=due_cell,
                language=row.language or "\u2014",
            )
        )
    return mark_safe("\n  ".join(written))  # noqa: S308 - every field went through escaping


# --- listings --------------------------------------------------------------------------------
