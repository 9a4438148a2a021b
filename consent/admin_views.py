"""The audit page in the Wagtail admin: who saw which client's data, when, from where, why.

For network admins (and superusers), their own networks only: another network's log is not
found (404), and anyone who administers no network is refused (403). Filters that cannot be
read answer 400 with what is wrong; the CSV carries the same rows as the filtered page.

Filters are posted, never put in the address: a client's name or number in a URL would end up
in server and proxy logs, the browser's history and Referer headers. Paging and the CSV of a
filtered log post the filters again; the unfiltered log pages by plain links.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from cms.client_address import client_ip, client_user_agent
from cms.downloads import csv_cell
from network.middleware import chosen_network
from network.models import Network, Organization, User
from network.permissions import administered_networks

from .models import AccessLog, AccessPurpose, ClientField
from .selectors import access_log_for_network
from .services import access_log_write

PAGE_SIZE = 50
# Days whose midnight exists in every time zone and in UTC (9999-12-31 in Los Angeles is year
# 10000 in UTC, which no database date holds).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)
CLIENT_ID = re.compile(r"#?([0-9]{1,18})")  # a client's number, as the page shows it


class AuditFilterForm(forms.Form):
    """The audit page's filters; all optional."""

    person = forms.CharField(
        label=gettext_lazy("Person"),
        required=False,
        max_length=150,
        help_text=gettext_lazy("User name, name or e-mail address, or part of it."),
    )
    organization = forms.ModelChoiceField(
        label=gettext_lazy("Organization"),
        queryset=Organization.objects.none(),
        required=False,
        empty_label=gettext_lazy("Any organization"),
    )
    client = forms.CharField(
        label=gettext_lazy("Client"),
        required=False,
        max_length=200,
        help_text=gettext_lazy("The client's number (#12), or words of their name."),
    )
    start = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    end = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    purpose = forms.ChoiceField(
        label=gettext_lazy("Purpose"),
        required=False,
        choices=[("", gettext_lazy("Any purpose")), *AccessPurpose.choices],
    )

    def __init__(self, *args: Any, network: Network, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.network = network
        organizations = Organization.objects.filter(network=network).order_by("name")
        self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start: date | None = data.get("start")
        end: date | None = data.get("end")
        for name, day in (("start", start), ("end", end)):
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(
                    name,
                    _("Choose a date between %(first)s and %(last)s.")
                    % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()},
                )
        if self.errors:
            return data
        if start and end and start > end:
            raise forms.ValidationError(
                _("The start date (%(start)s) is after the end date (%(end)s).")
                % {"start": start.isoformat(), "end": end.isoformat()},
                code="order",
            )
        client = (data.get("client") or "").strip()
        number = CLIENT_ID.fullmatch(client)
        data["client_id"] = int(number.group(1)) if number else None
        data["client_name"] = "" if number else client
        return data

    def selection(self) -> dict[str, Any]:
        """The selector's keyword arguments for the valid filters (days in the network's zone,
        both included)."""
        data = self.cleaned_data
        zone = ZoneInfo(self.network.time_zone)
        return {
            "person": (data.get("person") or "").strip(),
            "organization": data.get("organization"),
            "client_id": data["client_id"],
            "client_name": data["client_name"],
            "since": _day_start(data.get("start"), zone),
            "until": _day_start(data["end"] + timedelta(days=1), zone) if data.get("end") else None,
            "purpose": data.get("purpose") or "",
        }


def _day_start(day: date | None, zone: ZoneInfo) -> datetime | None:
    return None if day is None else datetime.combine(day, time(), tzinfo=zone)


@require_http_methods(["GET", "POST"])
def access_log_page(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The network's access log, 50 rows a page, newest first, or as CSV (``format=csv``):
    filtered when posted, whole on GET."""
    user: User = request.user  # type: ignore[assignment]
    networks = list(administered_networks(user))
    if not networks:
        raise PermissionDenied
    posted = request.method == "POST"
    data = request.POST if posted else request.GET
    network = chosen_network(request, networks, data)
    wants_csv = data.get("format") == "csv"
    if not posted and set(request.GET) & set(AuditFilterForm.base_fields):
        message = _(
            "Filters are sent with the form on this page, not in the address: a client's name "
            "in an address ends up in logs and browser history."
        )
        if wants_csv:
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        context = {
            "form": AuditFilterForm(network=network),
            "network": network,
            "networks": networks,
            "problems": [message],
        }
        return render(request, "consent/admin/access_log.html", context, status=400)
    form = AuditFilterForm(request.POST if posted else None, network=network)
    if form.is_bound and not form.is_valid():
        problems = [str(e) for errors in form.errors.values() for e in errors]
        if wants_csv:
            return HttpResponseBadRequest(
                " ".join(problems), content_type="text/plain; charset=utf-8"
            )
        context = {"form": form, "network": network, "networks": networks, "problems": problems}
        return render(request, "consent/admin/access_log.html", context, status=400)
    selection = form.selection() if form.is_bound else {}
    rows = access_log_for_network(network=network, user=user, **selection)
    if wants_csv:
        # The rows as they stand before this download's own read is logged.
        rows = rows.filter(pk__lte=AccessLog.objects.aggregate(last=Max("pk"))["last"] or 0)
        _seen(request, network, rows.order_by().values_list("client_id", flat=True).distinct())
        return _csv(network, rows)
    page = Paginator(rows, PAGE_SIZE).get_page(data.get("page"))
    labels = dict(ClientField.choices)
    purposes = dict(AccessPurpose.choices)
    shown = [
        (
            entry,
            [str(labels.get(code, code)) for code in entry.fields],
            str(purposes.get(entry.purpose, entry.purpose)),
        )
        for entry in page.object_list
    ]
    _seen(request, network, dict.fromkeys(entry.client_id for entry, _f, _p in shown))
    return render(
        request,
        "consent/admin/access_log.html",
        {"form": form, "network": network, "networks": networks, "page": page, "rows": shown},
    )


def _seen(request: HttpRequest, network: Network, client_ids: Iterable[int]) -> None:
    """The access log is client data too (names): its readers are logged like any other, for
    the network's administration (no organization), one row per client shown."""
    access_log_write(
        user=request.user,  # type: ignore[arg-type]
        organization=None,
        network=network,
        purpose=AccessPurpose.AUDIT,
        fields=[ClientField.NAME],
        seen=[(client_id, None) for client_id in client_ids],
        ip_address=client_ip(request),
        user_agent=client_user_agent(request),
    )


class _Echo:
    """A file that hands back what is written, for streaming ``csv.writer`` rows."""

    def write(self, value: str) -> str:
        return value


def _csv(network: Network, rows: Any) -> StreamingHttpResponse:
    """Every row of the filtered log, streamed (it can be long), times in the network's zone."""
    zone = ZoneInfo(network.time_zone)
    labels = dict(ClientField.choices)
    writer = csv.writer(_Echo())
    header = [
        _("When"),
        _("Person"),
        _("User name"),
        _("Organization"),
        _("Client number"),
        _("Client"),
        _("Referral"),
        _("Fields"),
        _("Purpose"),
        _("IP address"),
        _("Browser"),
    ]

    administration = _("Network administration")

    def lines() -> Iterator[str]:
        yield writer.writerow([csv_cell(str(h)) for h in header])
        for entry in rows.iterator(chunk_size=2000):
            person = entry.user
            yield writer.writerow(
                [
                    csv_cell(value)
                    for value in (
                        timezone.localtime(entry.at, zone).isoformat(timespec="seconds"),
                        person.get_full_name() if person else "",
                        person.username if person else "",
                        entry.organization.name if entry.organization else administration,
                        entry.client_id,
                        entry.client.full_name,
                        entry.referral_id or "",
                        "; ".join(str(labels.get(code, code)) for code in entry.fields),
                        entry.purpose,
                        entry.ip_address or "",
                        entry.user_agent,
                    )
                ]
            )

    stamp = timezone.localtime(timezone.now(), zone).strftime("%Y-%m-%d")
    return StreamingHttpResponse(
        lines(),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": content_disposition_header(
                True, f"{network.slug}-access-log-{stamp}.csv"
            )
        },
    )
