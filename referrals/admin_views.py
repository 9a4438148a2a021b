"""The network dashboard in the Wagtail admin: closed-loop performance for network admins.

Thin: find the networks the user administers, read the period, call ``referrals.dashboard`` and
render its tables (with server-drawn SVG charts beside them) or one of them as CSV.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.http import content_disposition_header, urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cms.downloads import csv_cell
from network.forms import PeriodDateField
from network.middleware import chosen_network
from network.models import Network, Organization, User
from network.permissions import administered_networks
from referrals import dashboard
from referrals.dashboard import Dashboard, Period
from referrals.dashboard_snapshots import SNAPSHOT_MAX_AGE, dashboard_snapshot, dashboard_viewed
from referrals.models import ReasonCode, ReferralOutcome

MAX_DAYS = 731  # two years of weeks still fit on one chart
TABLES = ("agencies", "reasons", "outcomes", "weeks", "overdue")
# A spreadsheet runs a cell that starts with one of these as a formula.


class PeriodForm(forms.Form):
    """From and to dates (both included); a missing one is filled from the default period."""

    start = PeriodDateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    end = PeriodDateField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, default: Period, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default = default
        self.fields["start"].initial = default.first
        self.fields["end"].initial = default.last

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        end: date = data.get("end") or self.default.last
        start: date = data.get("start") or end - timedelta(days=self.default.days - 1)
        if start > end:
            raise forms.ValidationError(
                _("The start date (%(start)s) is after the end date (%(end)s).")
                % {"start": start.isoformat(), "end": end.isoformat()},
                code="order",
            )
        if (end - start).days + 1 > MAX_DAYS:
            raise forms.ValidationError(
                _("Choose a period of at most %(days)s days.") % {"days": MAX_DAYS},
                code="too_long",
            )
        data["period"] = Period(first=start, last=end)
        return data


def network_dashboard(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    networks = list(administered_networks(user))
    if not networks:
        raise PermissionDenied
    network = chosen_network(request, networks)
    now = timezone.now()
    form = PeriodForm(
        request.GET or None, default=dashboard.period_default(network=network, now=now)
    )
    period = form.default if not form.is_bound else None
    if form.is_bound and form.is_valid():
        period = form.cleaned_data["period"]
    wants_csv = request.GET.get("format") == "csv"
    if period is None:
        if wants_csv:
            return HttpResponseBadRequest(
                " ".join(str(e) for errors in form.errors.values() for e in errors),
                content_type="text/plain; charset=utf-8",
            )
        return render(
            request,
            "referrals/admin/dashboard.html",
            {"form": form, "network": network, "networks": networks},
            status=400,
        )
    if wants_csv:
        table = request.GET.get("table", "")
        if table not in TABLES:
            return HttpResponseBadRequest(
                _("Unknown table “%(table)s”; one of: %(tables)s.")
                % {"table": table, "tables": ", ".join(TABLES)},
                content_type="text/plain; charset=utf-8",
            )
        return _csv(network, period, now, table)
    served = dashboard_snapshot(
        network=network, period=period, now=now, refresh=request.GET.get("refresh") == "1"
    )
    board = served.board
    if period == form.default:
        dashboard_viewed(network, now)
    query: dict[str, str | int] = {
        "network": network.pk,
        "start": period.first.isoformat(),
        "end": period.last.isoformat(),
    }
    return render(
        request,
        "referrals/admin/dashboard.html",
        {
            "form": form,
            "network": network,
            "networks": networks,
            "board": board,
            "changed_since": served.changed_since,
            "query": urlencode(query),
            "snapshot_minutes": int(SNAPSHOT_MAX_AGE.total_seconds() // 60),
            **_presented(board),
        },
    )


OVERDUE_PAGE_SIZE = 50


def network_dashboard_overdue(request: HttpRequest, agency_id: int) -> HttpResponse:
    """The variance report of one agency: its referrals overdue now, longest overdue first,
    a page at a time. 404 unless the agency belongs to a network the user administers."""
    user: User = request.user  # type: ignore[assignment]
    networks = list(administered_networks(user))
    if not networks:
        raise PermissionDenied
    agency = (
        Organization.objects.filter(pk=agency_id, network__in=networks)
        .select_related("network")
        .first()
    )
    if agency is None:
        raise Http404
    now = timezone.now()
    rows = dashboard.referrals_overdue_rows(network=agency.network, now=now, agency_id=agency.pk)
    page = Paginator(rows, OVERDUE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "referrals/admin/overdue.html",
        {
            "agency": agency,
            "network": agency.network,
            "page": page,
            "referrals": [dashboard.overdue_referral(row, now) for row in page.object_list],
            "now": now,
        },
    )


# --- presentation --------------------------------------------------------------------------


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{number_format(share * 100, 1)} %"


def _hours(wait: timedelta | None) -> str:
    if wait is None:
        return "—"
    return _("%(hours)s h") % {"hours": number_format(wait.total_seconds() / 3600, 1)}


def _presented(board: Dashboard) -> dict[str, Any]:
    """Formatted figures and chart geometry for the template."""
    performance = board.performance
    rows = [*performance.agencies]
    agencies = [
        {
            "figures": row,
            "rate": _percent(row.closed_loop_rate),
            "median": _hours(row.median_accept),
            "overdue": _percent(row.overdue_share),
        }
        for row in [*rows, performance.network]
    ]
    with_referrals = [row for row in rows if row.sent]
    outcome_labels = dict(ReferralOutcome.choices)
    return {
        "agencies": agencies[:-1],
        "active_agencies": [
            entry for entry, row in zip(agencies[:-1], rows, strict=True) if row.sent
        ],
        "idle_agencies": [
            entry for entry, row in zip(agencies[:-1], rows, strict=True) if not row.sent
        ],
        "network_figures": agencies[-1],
        "overdue_now": sum(row.total for row in board.overdue),
        "reason_labels": _reason_labels(),
        "reason_rows": [_reason_row(row) for row in rows if row.declined],
        "reason_total": _reason_row(performance.network),
        "closed_loop_chart": _bar_chart(
            (row.name, row.closed_loop_rate, _percent(row.closed_loop_rate))
            for row in with_referrals
        ),
        "overdue_chart": _bar_chart(
            (row.name, row.overdue_share, _percent(row.overdue_share)) for row in with_referrals
        ),
        "outcome_chart": _bar_chart(
            (
                str(outcome_labels[row.outcome]),
                row.total / board.outcomes.total if board.outcomes.total else None,
                str(row.total),
            )
            for row in board.outcomes.rows
        ),
        "week_chart": _column_chart([(date_format(w.week, "M j"), w.sent) for w in board.weeks]),
        "overdue": [
            {"agency": row, "longest_days": row.longest_days(board.now)} for row in board.overdue
        ],
    }


def _reason_labels() -> list[tuple[str, str]]:
    """(code, label) for every column of the reasons table, in ``dashboard.REASON_CODES``
    order ("" is a decline without a coded reason)."""
    labels = {**dict(ReasonCode.choices), "": _("No reason code")}
    return [(code, str(labels[code])) for code in dashboard.REASON_CODES]


def _reason_row(row: dashboard.AgencyFigures) -> dict[str, Any]:
    return {"name": row.name, "counts": [n for _code, n in row.reasons], "total": row.declined}


# Chart geometry in SVG user units; numbers are written with a dot whatever the locale.
CHART_WIDTH = 640
LABEL_WIDTH = 230
BAR_SPACE = 340
ROW_HEIGHT = 24
COLUMNS_HEIGHT = 140


def _bar_chart(items: Iterable[tuple[str, float | None, str]]) -> dict[str, Any]:
    """Horizontal bars, one per (label, fraction from 0 to 1 or None, text after the bar)."""
    bars = []
    for i, (label, fraction, text) in enumerate(items):
        width = max(0.0, min(1.0, fraction or 0.0)) * BAR_SPACE
        bars.append(
            {
                "label": Truncator(label).chars(34),
                "text": text,
                "y": f"{i * ROW_HEIGHT}",
                "width": f"{width:.1f}",
                "text_x": f"{LABEL_WIDTH + width + 6:.1f}",
            }
        )
    return {
        "bars": bars,
        "height": f"{max(1, len(bars)) * ROW_HEIGHT}",
        "label_x": f"{LABEL_WIDTH - 8}",
        "bar_x": f"{LABEL_WIDTH}",
        "bar_space": f"{BAR_SPACE}",
    }


def _column_chart(items: Sequence[tuple[str, int]]) -> dict[str, Any]:
    """Vertical columns, one per (label, count); about eight labels along the bottom."""
    top = max((count for _label, count in items), default=0) or 1
    step = CHART_WIDTH / max(1, len(items))
    every = math.ceil(len(items) / 8) or 1
    columns = []
    for i, (label, count) in enumerate(items):
        height = count / top * COLUMNS_HEIGHT
        columns.append(
            {
                "x": f"{i * step + 1:.1f}",
                "width": f"{max(1.0, step - 2):.1f}",
                "y": f"{20 + COLUMNS_HEIGHT - height:.1f}",
                "height": f"{height:.1f}",
                "count": count,
                "count_y": f"{14 + COLUMNS_HEIGHT - height:.1f}",
                "middle": f"{i * step + step / 2:.1f}",
                "label": label if i % every == 0 else "",
            }
        )
    return {"columns": columns, "width": f"{CHART_WIDTH}", "height": f"{COLUMNS_HEIGHT + 44}"}


# --- CSV -----------------------------------------------------------------------------------


def _csv(network: Network, period: Period, now: datetime, table: str) -> HttpResponse:
    tz = ZoneInfo(network.time_zone)
    header, rows = _CSV_TABLES[table](network, period, now, tz)
    filename = f"{network.slug}-{table}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    response = HttpResponse(
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition_header(True, filename)},
    )
    writer = csv.writer(response)
    writer.writerow([csv_cell(str(h)) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return response


def _share(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 1)


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


CsvTable = tuple[list[str], Iterable[Sequence[Any]]]


def _agencies_csv(network: Network, period: Period, now: datetime, tz: ZoneInfo) -> CsvTable:
    performance = dashboard.agency_performance(network=network, period=period, now=now)
    header = [
        _("Agency"),
        _("Referrals sent"),
        _("Due for feedback"),
        _("Closed loop"),
        _("Closed-loop rate (%)"),
        _("Accepted"),
        _("Median time to accept (hours)"),
        _("Went overdue"),
        _("Share overdue (%)"),
    ]
    rows = [
        [
            row.name or _("All agencies"),
            row.sent,
            row.feedback_due,
            row.closed_loop,
            _share(row.closed_loop_rate),
            row.accepted,
            None
            if row.median_accept is None
            else round(row.median_accept.total_seconds() / 3600, 2),
            row.went_overdue,
            _share(row.overdue_share),
        ]
        for row in [*performance.agencies, performance.network]
    ]
    return header, rows


def _reasons_csv(network: Network, period: Period, now: datetime, tz: ZoneInfo) -> CsvTable:
    performance = dashboard.agency_performance(network=network, period=period, now=now)
    header = [_("Agency"), *(label for _code, label in _reason_labels()), _("All reasons")]
    rows = [
        [row.name or _("All agencies"), *(n for _code, n in row.reasons), row.declined]
        for row in [*performance.agencies, performance.network]
    ]
    return header, rows


def _outcomes_csv(network: Network, period: Period, now: datetime, tz: ZoneInfo) -> CsvTable:
    table = dashboard.outcomes_by_category(network=network, period=period)
    header = [_("Outcome"), *(label for _code, label in table.categories), _("All needs")]
    rows = [[str(row.label), *row.counts, row.total] for row in table.rows]
    return header, rows


def _weeks_csv(network: Network, period: Period, now: datetime, tz: ZoneInfo) -> CsvTable:
    weeks = dashboard.referrals_per_week(network=network, period=period)
    return [_("Week starting"), _("Referrals sent")], [[w.week.isoformat(), w.sent] for w in weeks]


def _overdue_csv(network: Network, period: Period, now: datetime, tz: ZoneInfo) -> CsvTable:
    overdue = dashboard.referrals_overdue(network=network, now=now)
    header = [
        _("Agency"),
        _("Referral"),
        _("Service"),
        _("Sent"),
        _("Due"),
        _("Owed"),
        _("Days overdue"),
    ]
    owes = {"answer": _("answer"), "outcome": _("outcome")}
    rows = [
        [
            r.agency_name,
            r.pk,
            r.service_name,
            _local(r.sent_at, tz),
            _local(r.due_at, tz),
            owes[r.owes],
            r.days_overdue,
        ]
        for r in overdue
    ]
    return header, rows


_CSV_TABLES = {
    "agencies": _agencies_csv,
    "reasons": _reasons_csv,
    "outcomes": _outcomes_csv,
    "weeks": _weeks_csv,
    "overdue": _overdue_csv,
}
