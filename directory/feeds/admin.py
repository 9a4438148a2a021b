"""HSDS feeds in the Wagtail admin, per network: the feeds (a scoped snippet viewset), "Sync now",
each feed's syncs and their reports (on the page and as CSV).

The API key is write-only here: the form never shows it back (only whether one is set), and
nothing logs it.
"""

from __future__ import annotations

import csv
from typing import Any, cast

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from wagtail.admin import messages
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.admin.ui.tables import Column
from wagtail.admin.widgets.button import ListingButton
from wagtail.snippets.views import snippets as snippet_views

from network.models import User
from network.permissions import NetworkPerm, NetworkScopedPolicy, networks_with_perm
from network.wagtail_scoping import NetworkScopedSnippetViewSet, snippets_visible

from ..hsds.records import REPORT_COLUMNS
from ..models import FeedRun, FeedRunStatus, HsdsFeed
from .client import FeedUnavailable, address_check
from .runs import SyncRunning
from .services import feed_sync_request

feed_policy = NetworkScopedPolicy(HsdsFeed)

RUNS_SHOWN = 50
# How many lines of a run's report its page shows (all of them are in the CSV download).
FINDINGS_SHOWN = 50


class HsdsFeedForm(WagtailAdminModelForm):
    """The editor's networks only; the key is typed in, never shown back, kept when left blank."""

    new_api_key = forms.CharField(
        label=_("API key"),
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    api_key_clear = forms.BooleanField(label=_("Remove the API key"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user = self.for_user
        if user is not None and not user.is_superuser:
            networks = networks_with_perm(user, NetworkPerm.ADMINISTER)
            network_field = cast(forms.ModelChoiceField, self.fields["network"])
            network_field.queryset = networks
        key_field = self.fields["new_api_key"]
        if self.instance.pk and self.instance.api_key:
            key_field.help_text = gettext(
                "A key is set (not shown). Type a new one to replace it, or leave this blank to "
                "keep it."
            )
        else:
            key_field.help_text = gettext("Leave blank if the API is open.")

    def clean_url(self) -> str:
        url = cast(str, self.cleaned_data["url"])
        try:
            address_check(url)
        except FeedUnavailable as exc:
            raise forms.ValidationError(exc.reason) from exc
        return url

    def clean_api_key_header(self) -> str:
        header = cast(str, self.cleaned_data["api_key_header"]).strip()
        # An HTTP header name is a token: letters, digits and a few punctuation marks.
        if not header or not all(c.isalnum() or c in "!#$%&'*+-.^_`|~" for c in header):
            raise forms.ValidationError(gettext("Enter an HTTP header name, e.g. X-Api-Key."))
        return header

    def save(self, commit: bool = True) -> HsdsFeed:
        feed = cast(HsdsFeed, super().save(commit=False))
        if self.cleaned_data.get("api_key_clear"):
            feed.api_key = ""
        elif self.cleaned_data.get("new_api_key"):
            feed.api_key = self.cleaned_data["new_api_key"]
        if feed._state.adding and self.for_user is not None:
            feed.created_by = self.for_user
        if commit:
            feed.save()
        return feed


class HsdsFeedIndexView(snippet_views.IndexView):
    """Each feed's row offers its syncs, and "Sync now"."""

    def get_list_more_buttons(self, instance: HsdsFeed) -> list[Any]:
        buttons = list(super().get_list_more_buttons(instance))
        buttons.append(
            ListingButton(
                gettext("Syncs and reports"),
                reverse("directory_admin:feed_runs", args=[instance.pk]),
                icon_name="history",
                priority=5,
            )
        )
        return buttons


class HsdsFeedDeleteView(snippet_views.DeleteView):
    """Says what deleting a feed does to the listings that came from it."""

    @property
    def confirmation_message(self) -> str:
        return gettext(
            "Are you sure you want to delete this HSDS feed? Its syncs and their reports are "
            "deleted. The listings that came from it stay in the directory as they are (one the "
            "feed had unpublished stays unpublished); they no longer say they come from it, and "
            "nothing updates or unpublishes them any more."
        )


class HsdsFeedViewSet(NetworkScopedSnippetViewSet):
    model = HsdsFeed
    icon = "resubmit"
    menu_label = _("HSDS feeds")
    menu_order = 245
    add_to_admin_menu = True
    index_view_class = HsdsFeedIndexView
    delete_view_class = HsdsFeedDeleteView
    list_display = [
        "name",
        "network",
        "url",
        Column("last_status", label=_("Last sync"), accessor="last_sync_display"),
        "next_sync_at",
    ]
    search_fields = ["name", "url"]
    edit_handler = ObjectList(
        [
            FieldPanel("network"),
            FieldPanel("name"),
            FieldPanel("url"),
            MultiFieldPanel(
                [
                    FieldPanel("new_api_key"),
                    FieldPanel("api_key_clear"),
                    FieldPanel("api_key_header"),
                ],
                heading=_("Access"),
            ),
            FieldRowPanel(
                [FieldPanel("per_page"), FieldPanel("sync_every_hours"), FieldPanel("active")]
            ),
            FieldPanel("hold_changes"),
        ],
        base_form_class=HsdsFeedForm,
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        last = FeedRun.objects.filter(feed=OuterRef("pk")).order_by("-created_at", "-pk")
        return (
            super()
            .get_queryset(request)
            .select_related("network")
            .annotate(
                last_status=Subquery(last.values("status")[:1]),
                last_finished_at=Subquery(last.values("finished_at")[:1]),
            )
        )


# --- syncs and their reports -----------------------------------------------------------------


def _feed_for(request: HttpRequest, pk: int) -> HsdsFeed:
    """The feed, if the user administers its network; else 404 (another network's feed is not
    found, whatever its id)."""
    user = cast(User, request.user)
    if not feed_policy.user_has_permission(user, "change"):
        raise PermissionDenied
    feeds = snippets_visible(user=user, model=HsdsFeed).select_related("network")
    return get_object_or_404(feeds, pk=pk)


def _run_for(request: HttpRequest, pk: int) -> FeedRun:
    user = cast(User, request.user)
    if not feed_policy.user_has_permission(user, "change"):
        raise PermissionDenied
    feeds = snippets_visible(user=user, model=HsdsFeed)
    return get_object_or_404(
        FeedRun.objects.filter(feed__in=feeds).select_related("feed__network", "requested_by"),
        pk=pk,
    )


def feed_runs(request: HttpRequest, pk: int) -> HttpResponse:
    feed = _feed_for(request, pk)
    # The list shows each run's counts, not its report: the reports stay in the database.
    reports = ("problems", "warnings", "findings", "unpublished", "republished", "held")
    runs = list(feed.runs.select_related("requested_by").defer(*reports)[:RUNS_SHOWN])
    running = any(r.status in {FeedRunStatus.QUEUED, FeedRunStatus.RUNNING} for r in runs)
    return render(
        request,
        "directory/admin/feed_runs.html",
        {"feed": feed, "runs": runs, "running": running},
    )


@require_POST
def feed_sync_now(request: HttpRequest, pk: int) -> HttpResponse:
    feed = _feed_for(request, pk)
    try:
        feed_sync_request(feed=feed, by=cast(User, request.user), now=timezone.now())
    except SyncRunning as exc:
        messages.warning(request, " ".join(exc.messages))
    else:
        messages.success(request, gettext("The sync of %(feed)s has started.") % {"feed": feed})
    return redirect("directory_admin:feed_runs", feed.pk)


def feed_run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    running = run.status in {FeedRunStatus.QUEUED, FeedRunStatus.RUNNING}
    findings = run.findings or []
    return render(
        request,
        "directory/admin/feed_run.html",
        {
            "run": run,
            "running": running,
            "findings": findings[:FINDINGS_SHOWN],
            "findings_total": len(findings),
            "findings_more": max(len(findings) - FINDINGS_SHOWN, 0),
        },
    )


def feed_run_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's report as CSV: every problem, repair, record left out and warning, and every
    listing taken down, put back or held."""
    run = _run_for(request, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"feed-{run.feed_id}-sync-{run.pk}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    writer = csv.writer(response)
    writer.writerow(REPORT_COLUMNS)
    for row in [*run.problems, *(run.findings or []), *run.warnings]:
        writer.writerow(_cells(row))
    for rows, action in (
        (run.unpublished, gettext("unpublished: no longer in the feed")),
        (run.republished, gettext("published again: back in the feed")),
        (run.held, gettext("changed in the feed: held for review")),
    ):
        for page_id, title in rows:
            writer.writerow(["", "", "", f"{title} (page {page_id})", action])
    return response


def _cells(row: list[Any]) -> list[str]:
    """A report row as text, defused for spreadsheets (a cell starting with = + - @ is text)."""
    cells = ["" if value is None else str(value) for value in row]
    return ["'" + c if c[:1] in {"=", "+", "-", "@", "\t", "\r"} else c for c in cells]
