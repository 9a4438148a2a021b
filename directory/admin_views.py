"""Wagtail admin pages for network admins: import a directory, and listings that need attention."""

from __future__ import annotations

import csv

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from network.models import Network, User
from network.permissions import administered_networks

from . import selectors
from .hsds import import_jobs, uploads
from .hsds.records import REPAIRS, REPORT_COLUMNS
from .models import DirectoryImport, DirectoryImportStatus


class ImportForm(forms.Form):
    network = forms.ModelChoiceField(queryset=Network.objects.none(), label=_("Network"))
    upload = forms.FileField(
        label=_("HSDS file"),
        help_text=_(
            "A .zip Tabular Data Package (CSV files with "
            "datapackage.json) or a .json file of services."
        ),
    )

    def __init__(self, *args: object, user: User, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        networks = administered_networks(user)
        field = self.fields["network"]
        assert isinstance(field, forms.ModelChoiceField)  # noqa: S101  (declared above)
        field.queryset = networks
        if networks.count() == 1:
            field.initial = networks.first()


def import_index(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    networks = administered_networks(user)
    if not networks.exists():
        raise PermissionDenied
    form = ImportForm(user=user)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES, user=user)
        if form.is_valid():
            try:
                job = uploads.directory_import_start(
                    network=form.cleaned_data["network"],
                    upload=form.cleaned_data["upload"],
                    by=user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                return redirect("directory_admin:import_detail", job.pk)
    jobs = DirectoryImport.objects.filter(network__in=networks).select_related(
        "network", "uploaded_by"
    )[:20]
    return render(
        request,
        "directory/admin/import_index.html",
        {"form": form, "jobs": jobs},
        status=400 if form.errors else 200,
    )


# How many lines of the report the preview shows (all of them are in the CSV download).
PREVIEW_LINES = 50


def _job_for(request: HttpRequest, pk: int) -> DirectoryImport:
    """The import, if the user administers its network (404 otherwise: not yours)."""
    user: User = request.user  # type: ignore[assignment]
    return get_object_or_404(
        DirectoryImport.objects.filter(network__in=administered_networks(user)).select_related(
            "network", "uploaded_by"
        ),
        pk=pk,
    )


def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job_for(request, pk)
    progress = cache.get(import_jobs.import_progress_key(job.pk))
    running = job.status in {DirectoryImportStatus.QUEUED, DirectoryImportStatus.RUNNING}
    findings = job.findings or []
    repairs = sum(1 for line in findings if str(line[4]).startswith(REPAIRS))
    return render(
        request,
        "directory/admin/import_detail.html",
        {
            "job": job,
            "progress": progress,
            "running": running,
            "review": job.status == DirectoryImportStatus.REVIEW,
            "findings": findings[:PREVIEW_LINES],
            "findings_total": len(findings),
            "findings_more": max(len(findings) - PREVIEW_LINES, 0),
            "repairs": repairs,
            "skips": len(findings) - repairs,
        },
    )


def import_report(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole report of an import as CSV: file, row, field, problem, what was done."""
    job = _job_for(request, pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stem = job.original_name.rsplit(".", 1)[0] or "import"
    response["Content-Disposition"] = f'attachment; filename="{slugify(stem)}-report.csv"'
    response["Cache-Control"] = "private, no-store"
    writer = csv.writer(response)
    writer.writerow(REPORT_COLUMNS)
    for line in job.findings or []:
        writer.writerow(["" if cell is None else cell for cell in line])
    return response


def _decide(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    job = _job_for(request, pk)
    user: User = request.user  # type: ignore[assignment]
    try:
        if action == "import":
            uploads.directory_import_valid_records(job=job, by=user)
        else:
            uploads.directory_import_cancel(job=job, by=user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("directory_admin:import_detail", job.pk)
    return redirect(
        "directory_admin:import_detail" if action == "import" else "directory_admin:import_index",
        *([job.pk] if action == "import" else []),
    )


def import_valid_records(request: HttpRequest, pk: int) -> HttpResponse:
    """POST: import every valid record of an upload that awaits a decision."""
    return _decide(request, pk, "import")


def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """POST: cancel an upload that awaits a decision (its file is deleted)."""
    return _decide(request, pk, "cancel")


def listings_report(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    networks = list(administered_networks(user))
    if not networks:
        raise PermissionDenied
    now = timezone.now()
    sections = [
        {
            "network": network,
            "stale": list(selectors.listings_stale(network=network, now=now)[:500]),
            "unplaced": list(selectors.locations_unplaced(network=network)[:500]),
        }
        for network in networks
    ]
    return render(request, "directory/admin/listings_report.html", {"sections": sections})
