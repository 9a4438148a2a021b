"""Wagtail admin pages for network admins: import a directory, and listings that need attention."""

from __future__ import annotations

from django import forms
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from network.models import Network, User
from network.permissions import administered_networks

from . import selectors
from .hsds import import_jobs, uploads
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


def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    job = get_object_or_404(
        DirectoryImport.objects.filter(network__in=administered_networks(user)).select_related(
            "network", "uploaded_by"
        ),
        pk=pk,
    )
    progress = cache.get(import_jobs.import_progress_key(job.pk))
    running = job.status in {DirectoryImportStatus.QUEUED, DirectoryImportStatus.RUNNING}
    return render(
        request,
        "directory/admin/import_detail.html",
        {"job": job, "progress": progress, "running": running},
    )


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
