"""HSDS files network admins upload, and what importing each did."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cms.storage import private_storage, random_name


class DirectoryImportStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Imported")
    FAILED = "failed", _("Refused: nothing imported")
    # The file has problems: nothing imported yet; an admin imports the valid records or cancels.
    REVIEW = "review", _("Problems found: import the valid records or cancel")
    CANCELLED = "cancelled", _("Cancelled: nothing imported")


def import_upload_to(instance: DirectoryImport, filename: str) -> str:
    """A random name: the package is the network's unpublished data, not a public file."""
    return random_name(folder="directory-imports", extension=filename.rsplit(".", 1)[-1])


class DirectoryImport(models.Model):
    """An HSDS file a network admin uploaded, and what importing it did."""

    network = models.ForeignKey(
        "network.Network", on_delete=models.CASCADE, related_name="directory_imports"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Private storage, read by the import task only (the admin shows the original name).
    upload = models.FileField(upload_to=import_upload_to, storage=private_storage, max_length=255)
    original_name = models.CharField(max_length=255)
    status = models.CharField(
        max_length=10, choices=DirectoryImportStatus.choices, default=DirectoryImportStatus.QUEUED
    )
    summary = models.TextField(blank=True)
    problems = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    # Import every valid record and report the rest (chosen after a strict run found problems).
    skip_invalid = models.BooleanField(default=False)
    # The report: [file, row, field, problem, what was done] per problem found or repair made.
    findings = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"
