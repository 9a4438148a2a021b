"""HSDS API feeds a network's directory follows, each sync run, and which listings came from
which feed."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.models import Page

DEFAULT_API_KEY_HEADER = "X-Api-Key"


class HsdsFeed(models.Model):
    """An HSDS 3.0 API (its base URL) whose services a network's directory follows."""

    network = models.ForeignKey(
        "network.Network", on_delete=models.CASCADE, related_name="hsds_feeds"
    )
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(
        _("API address"),
        max_length=500,
        help_text=_(
            "The base address of the HSDS 3.0 API, e.g. https://211.example.org/api/hsds/ "
            "(its services are read from <address>/services)."
        ),
    )
    # Never shown back in the admin, never logged: the form offers only "replace" or "clear".
    api_key = models.CharField(_("API key"), max_length=500, blank=True)
    api_key_header = models.CharField(
        _("API key header"),
        max_length=100,
        default=DEFAULT_API_KEY_HEADER,
        help_text=_("The HTTP header the API expects its key in (e.g. X-Api-Key, Authorization)."),
    )
    per_page = models.PositiveSmallIntegerField(
        _("services per page"),
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    sync_every_hours = models.PositiveSmallIntegerField(
        _("sync every (hours)"),
        default=24,
        validators=[MaxValueValidator(24 * 30)],
        help_text=_("0: only when someone presses “Sync now”."),
    )
    active = models.BooleanField(_("active"), default=True)
    hold_changes = models.BooleanField(
        _("hold changes for review"),
        default=False,
        help_text=_(
            "Off: what the feed changes in a listing it delivered before is published at once. "
            "On: each change becomes a revision submitted for review, and the live listing stays "
            "as it is until a moderator approves it. New listings are published at once either way."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    next_sync_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = _("HSDS feed")
        verbose_name_plural = _("HSDS feeds")
        constraints = [
            models.UniqueConstraint(fields=["network", "url"], name="hsds_feed_unique_url"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def last_sync_display(self) -> str:
        """The last sync's status and end, from the admin listing's annotations."""
        status = getattr(self, "last_status", None)
        if not status:
            return str(_("Never"))
        label = str(FeedRunStatus(status).label)
        finished = getattr(self, "last_finished_at", None)
        if finished is None:
            return label
        return f"{label} · {timezone.localtime(finished):%Y-%m-%d %H:%M}"


class FeedRunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Synced")
    FAILED = "failed", _("Failed: nothing changed")


class FeedRunTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("Schedule")
    MANUAL = "manual", _("Sync now")


class FeedRun(models.Model):
    """One sync of a feed: what it fetched and what the import did (or why nothing changed)."""

    feed = models.ForeignKey(HsdsFeed, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(
        max_length=10, choices=FeedRunStatus.choices, default=FeedRunStatus.QUEUED
    )
    trigger = models.CharField(max_length=10, choices=FeedRunTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    services = models.PositiveIntegerField(default=0)
    bytes_read = models.PositiveBigIntegerField(default=0)
    summary = models.TextField(blank=True)
    # Each a list of [file, row, field, problem, what was done] (the CSV report's columns).
    # ``problems`` refused the whole run; ``findings`` are what a run that went through repaired
    # or skipped (as the import's skip-invalid mode reports them).
    problems = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    findings = models.JSONField(default=list, blank=True)
    # The findings counted, for the list of runs (which does not load the reports).
    repaired = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    # The listings this run unpublished because the feed no longer lists them: [[page id, title]].
    unpublished = models.JSONField(default=list, blank=True)
    republished = models.JSONField(default=list, blank=True)
    # The listings whose changes this run held for review (the feed's "hold changes" setting).
    held = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("feed sync")
        verbose_name_plural = _("feed syncs")

    def __str__(self) -> str:
        return f"{self.feed} {self.created_at:%Y-%m-%d %H:%M} ({self.get_status_display()})"


class FeedListing(models.Model):
    """A listing (agency or service page) that came from a feed.

    Deleting the feed deletes these marks, never the listings: the network keeps its directory as
    it was, unmarked (a listing the feed had unpublished stays unpublished).
    ``unpublished_by_feed`` marks the listings the feed's sync took down because the feed no longer
    lists them: only those are published again when they come back (one a person unpublished
    stays unpublished).
    """

    feed = models.ForeignKey(HsdsFeed, on_delete=models.CASCADE, related_name="listings")
    page = models.OneToOneField(Page, on_delete=models.CASCADE, related_name="feed_listing")
    unpublished_by_feed = models.BooleanField(default=False)
    last_seen_run = models.ForeignKey(
        FeedRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("listing from a feed")

    def __str__(self) -> str:
        return f"{self.page_id} from {self.feed_id}"
