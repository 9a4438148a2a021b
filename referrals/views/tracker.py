"""The clinic's tracker: every referral it sent, filterable, with status and age at a glance."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from consent.models import AccessPurpose, ClientField
from network import selectors
from network.decorators import member_required
from network.middleware import TenantRequest
from network.models import Organization
from network.permissions import OrgPerm, user_has_org_perm
from referrals.forms import ReferralTrackerForm
from referrals.models import (
    OUTCOME_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    URGENCY_LABELS,
    Referral,
    Urgency,
)
from referrals.selectors.tracker import (
    agencies_referred_to,
    referrals_sent,
    referrals_sent_changed,
    referrals_sent_count_kept,
)
from referrals.views.clients import clients_seen
from referrals.views.referral import acting_organization
from referrals.views.rows import URL_SLOT, Ages, CountedPaginator, Labels, Times, row_format

PAGE_SIZE = 25


@require_http_methods(["GET", "POST"])
@member_required
def referral_tracker(request: TenantRequest) -> HttpResponse:
    """Referrals the acting clinic sent, newest first, 25 a page. Filters that cannot be read
    are named above the table (400) and the others still apply.

    The filters are in the address; a client's name is posted (``client_q``), never put in
    it, as on the clients list. ``?client=<id>`` shows one client's referrals."""
    clinic = acting_organization(request)
    checker = request.permission_checker  # read once; the selector asks its cache
    if not clinic.sends_referrals or not user_has_org_perm(
        request.user, OrgPerm.SEND_REFERRALS, clinic, checker=checker
    ):
        raise PermissionDenied(_("Only clinic staff track the referrals their clinic sent."))
    agencies = selectors.organizations_visible(
        user=request.user, network=clinic.network, kind="agency", memberships=request.memberships
    )
    form = ReferralTrackerForm(request.GET or None, agencies=agencies)
    valid = form.is_valid() if form.is_bound else True
    filters = form.cleaned_data if form.is_bound else {}
    now = timezone.now()
    # Overdue is read to the minute, so that a filter's count can be kept for that minute.
    as_of = now.replace(second=0, microsecond=0)
    client_text = request.POST.get("client_q", "").strip()[:100]
    client_id = request.GET.get("client", "")
    referrals = referrals_sent(
        user=request.user,
        organization=clinic,
        now=as_of,
        statuses=sorted(filters.get("status") or ()),  # one order: one cache key
        agency=filters.get("agency"),
        category=filters.get("category") or "",
        overdue=bool(filters.get("overdue")),
        sent_from=filters.get("sent_from"),
        sent_to=filters.get("sent_to"),
        client_text=client_text,
        client_id=int(client_id) if client_id.isdigit() and len(client_id) < 18 else None,
        checker=checker,
    )
    page_number = request.POST.get("page") if request.method == "POST" else None
    paginator = Paginator(referrals, PAGE_SIZE)
    # The stamp the clinic's count and agency list are kept under, read once for both.
    changed = referrals_sent_changed(clinic)
    if not client_text and not client_id:  # a client's name or id is never a cache key
        count = referrals_sent_count_kept(referrals, organization=clinic, changed=changed)
        paginator = CountedPaginator(referrals, PAGE_SIZE, count=count)
    page = paginator.get_page(page_number or request.GET.get("page"))
    clients_seen(
        request,
        clinic,
        purpose=AccessPurpose.TRACKER,
        fields=[ClientField.NAME],
        seen=[(referral.client_id, referral.pk) for referral in page.object_list],
    )
    ages = Ages()
    rows = [
        (referral, _age(referral.sent_on, now, ages))  # type: ignore[attr-defined]
        for referral in page.object_list
    ]
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "rows_html": rows_html(rows, zone=ZoneInfo(clinic.network.time_zone)),
        "status_checkboxes": _status_checkboxes(form),
        "filtered": (bool(filters) and any(filters.values())) or bool(client_text),
        "client_q": client_text,
        "filters_query": _without_page(request),
        "time_zone": clinic.network.time_zone,  # dates as the clinic reads them
        "agency_select": _agency_select(
            form,
            agencies_referred_to(organization=clinic, agencies=agencies, changed=changed),
            filters,
        ),
    }
    htmx = bool(request.htmx)  # type: ignore[attr-defined]
    template = "referrals/tracker/_table.html" if htmx else "referrals/tracker/list.html"
    # htmx swaps only successful answers, so the fragment carries its own error messages.
    return render(request, template, context, status=200 if valid or htmx else 400)


# A tracker row; its fields escaped (``row_format``).
TRACKER_ROW = (
    '<tr class="{row_class}" data-referral="{pk}">\n'
    "      <td>{status}</td>\n"
    '      <td><time datetime="{sent_iso}" title="{sent}">{age}</time></td>\n'
    "      <td>{last_name}, {first_name}</td>\n"
    '      <td><a href="{url}">{service}</a><br><span class="muted">{agency}</span></td>\n'
    "      <td>{due}</td>\n"
    '      <td class="tracker-outcome">{outcome}</td>\n'
    "    </tr>"
)


def rows_html(rows: list[tuple[Referral, str]], *, zone: tzinfo) -> SafeString:
    """The tracker table's rows (``referrals_sent``'s, with ``sent_on``, ``due_at`` and
    ``is_overdue``, each with how long ago it was sent), dates in the clinic's network's time
    zone."""
    times = Times(zone)
    statuses, urgencies = Labels(STATUS_LABELS), Labels(URGENCY_LABELS)
    outcomes, reasons = Labels(OUTCOME_LABELS), Labels(REASON_LABELS)
    overdue_badge = format_html(' <span class="badge overdue-badge">{}</span>', _("Overdue"))
    muted_dash = mark_safe('<span class="muted">\u2014</span>')
    # One address reversed; each row's differs only by its number.
    url_of = reverse("referrals:referral_detail", args=[URL_SLOT]).replace
    written = []
    for referral, age in rows:
        sent_on = times.local(referral.sent_on)  # type: ignore[attr-defined]
        due_at = referral.due_at  # type: ignore[attr-defined]
        overdue = referral.is_overdue  # type: ignore[attr-defined]
        status = format_html(
            '<span class="badge status status-{}">{}</span>',
            referral.status,
            statuses(referral.status),
        )
        if referral.urgency == Urgency.URGENT:
            status = format_html(
                '{} <span class="badge warn">{}</span>', status, urgencies(referral.urgency)
            )
        due = (
            SafeString(times.html(due_at) + (overdue_badge if overdue else ""))
            if due_at
            else muted_dash
        )
        coded = outcomes(referral.outcome) if referral.outcome else reasons(referral.reason_code)
        coded = coded if referral.outcome or referral.reason_code else ""
        if referral.status_reason:
            outcome = format_html(
                '{}{}<span class="muted">{}</span>',
                coded,
                ": " if coded else "",
                Truncator(referral.status_reason).chars(80),
            )
        else:
            outcome = format_html("{}", coded) if coded else muted_dash
        written.append(
            row_format(
                TRACKER_ROW,
                row_class="overdue" if overdue else "",
                pk=referral.pk,
                status=status,
                sent_iso=sent_on.isoformat(),
                sent=times.text(sent_on),
                age=age,
                last_name=referral.client.last_name,
                first_name=referral.client.first_name,
                url=url_of(str(URL_SLOT), str(referral.pk)),
                service=referral.service_name,
                agency=referral.agency.name,
                due=due,
                outcome=outcome,
            )
        )
    return mark_safe("\n  ".join(written))  # noqa: S308 - every field went through escaping


def _status_checkboxes(form: ReferralTrackerForm) -> SafeString:
    """The status filter's checkboxes as ``{{ choice.tag }} {{ choice.choice_label }}`` in a
    label each write them (one template render a box, otherwise)."""
    bound = form["status"]
    chosen = {str(value) for value in bound.value() or ()}
    name, prefix = bound.html_name, bound.auto_id
    return format_html_join(
        "",
        '<label class="check" for="{}_{}"><input type="checkbox" name="{}" value="{}" '
        'id="{}_{}"{}> {}</label>',
        (
            (prefix, i, name, value, prefix, i, " checked" if str(value) in chosen else "", label)
            for i, (value, label) in enumerate(
                cast(list[tuple[str, str]], cast(forms.ChoiceField, bound.field).choices)
            )
        ),
    )


def _agency_select(
    form: ReferralTrackerForm, offered: QuerySet[Organization], filters: dict[str, Any]
) -> SafeString:
    """The agency filter's drop-down as ``{{ form.agency }}`` writes it, offering the agencies
    the clinic referred to (and the one chosen, if it is another of the network's: a link may
    name it), its options made from (id, name) rows."""
    bound = form["agency"]
    empty = copy.copy(bound.field.widget)
    empty.choices = []
    start, end = str(bound.as_widget(widget=empty)).rsplit("\n</select>", 1)
    value = bound.value()
    chosen = "" if value in (None, "") else str(value)
    field = cast(forms.ModelChoiceField, bound.field)
    options = list(offered.values_list("pk", "name"))
    agency = filters.get("agency")
    if agency is not None and agency.pk not in {pk for pk, _name in options}:
        options = sorted([*options, (agency.pk, agency.name)], key=lambda option: option[1])
    # The ids are integers; only the names need escaping.
    rows = "".join(
        f'\n  <option value="{pk}"{" selected" if str(pk) == chosen else ""}>'
        f"{escape(name)}</option>"
        for pk, name in options
    )
    empty_label = escape(field.empty_label or "")
    rows = f'\n  <option value=""{" selected" if chosen == "" else ""}>{empty_label}</option>{rows}'
    return mark_safe(f"{start}{rows}\n</select>{end}")  # noqa: S308 - escaped above


def _without_page(request: TenantRequest) -> str:
    """The filters in the address, without the page (a posted search pages itself)."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _age(sent: datetime, now: datetime, ages: Ages) -> str:
    """How long ago, in its largest unit ("3 days ago"), or "just now"."""
    if now - sent < timedelta(minutes=1):
        return _("just now")
    return ages.ago(sent, now, depth=1)
