"""HSDS files network admins upload: checked at once, stored, and queued for import (one import
per network at a time). ``directory.hsds.import_jobs`` runs them."""

from __future__ import annotations

import zipfile

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext

from network.models import Network, User
from network.permissions import NetworkPerm, user_has_network_perm

from .. import tasks
from ..models import DirectoryImport, DirectoryImportStatus
from ..selectors import job_unfinished
from .reading import MAX_FILE_BYTES, ReadError, zip_check

IMPORT_SUFFIXES = (".zip", ".json", ".ndjson")


class ImportRunning(ValidationError):
    """Another import into the same network is queued or running."""


def _import_unfinished(network: Network) -> DirectoryImport | None:
    """The network's import still queued or running (``HSDS_IMPORT_STALE_MINUTES`` at most)."""
    return job_unfinished(
        jobs=DirectoryImport.objects.filter(network=network),
        now=timezone.now(),
        stale_minutes=settings.HSDS_IMPORT_STALE_MINUTES,
    )


def _upload_zip_check(upload: UploadedFile, name: str) -> None:
    """Refuse a zip upload at once when its central directory lists too much."""
    try:
        with zipfile.ZipFile(upload) as archive:
            zip_check(archive, name=name)
    except zipfile.BadZipFile as exc:
        raise ValidationError({"upload": gettext("The file is not a readable zip.")}) from exc
    except ReadError as exc:
        raise ValidationError({"upload": str(exc)}) from exc
    finally:
        upload.seek(0)


@transaction.atomic
def directory_import_start(*, network: Network, upload: UploadedFile, by: User) -> DirectoryImport:
    """Store an uploaded HSDS file and queue its import; the task runs after commit.
    ImportRunning while another import into the network is unfinished, ValidationError for a
    file of the wrong kind or size."""
    if not user_has_network_perm(by, NetworkPerm.ADMINISTER, network):
        raise PermissionDenied(gettext("Only the network's admins can import its directory."))
    name = upload.name or "upload"
    if not name.lower().endswith(IMPORT_SUFFIXES):
        raise ValidationError(
            {"upload": gettext("Upload a .zip Tabular Data Package or a .json file.")}
        )
    if upload.size is None or upload.size > MAX_FILE_BYTES:
        raise ValidationError(
            {
                "upload": gettext("The file is larger than %(size)s MB; split it.")
                % {"size": MAX_FILE_BYTES // 1024 // 1024}
            }
        )
    if name.lower().endswith(".zip"):
        _upload_zip_check(upload, name)
    # One import per network at a time: the network row is the lock, held until commit.
    Network.objects.select_for_update().filter(pk=network.pk).first()
    running = _import_unfinished(network)
    if running is not None:
        raise ImportRunning(
            {
                "upload": gettext(
                    "An import into %(network)s is still running (%(file)s, uploaded at "
                    "%(at)s); wait until it has finished, then upload again."
                )
                % {
                    "network": network.name,
                    "file": running.original_name,
                    "at": time_format(timezone.localtime(running.created_at), "TIME_FORMAT"),
                }
            }
        )
    job = DirectoryImport.objects.create(
        network=network, uploaded_by=by, upload=upload, original_name=name[:255]
    )
    transaction.on_commit(lambda: tasks.directory_import_run.delay(job.pk))
    return job


def _review_lock(*, job: DirectoryImport, by: User) -> DirectoryImport:
    """The job, locked, if ``by`` administers its network and it awaits a decision."""
    if not user_has_network_perm(by, NetworkPerm.ADMINISTER, job.network):
        raise PermissionDenied(gettext("Only the network's admins can import its directory."))
    locked = DirectoryImport.objects.select_for_update().select_related("network").get(pk=job.pk)
    if locked.status != DirectoryImportStatus.REVIEW:
        raise ValidationError(
            gettext("This import is no longer waiting for a decision (%(status)s).")
            % {"status": locked.get_status_display()}
        )
    return locked


@transaction.atomic
def directory_import_valid_records(*, job: DirectoryImport, by: User) -> DirectoryImport:
    """Queue the import of every valid record of an upload whose strict check found problems
    (the rest is left out and reported). ImportRunning while another import into the network is
    unfinished; ValidationError if the job is not waiting for a decision."""
    Network.objects.select_for_update().filter(pk=job.network_id).first()
    job = _review_lock(job=job, by=by)
    running = _import_unfinished(job.network)
    if running is not None:
        raise ImportRunning(
            gettext("An import into %(network)s is still running (%(file)s); try again later.")
            % {"network": job.network.name, "file": running.original_name}
        )
    job.status, job.skip_invalid = DirectoryImportStatus.QUEUED, True
    job.summary, job.problems, job.findings, job.finished_at = "", [], [], None
    # A fresh start for the stale-import rule (a worker has it from now).
    job.created_at = timezone.now()
    job.save()
    transaction.on_commit(lambda: tasks.directory_import_run.delay(job.pk))
    return job


@transaction.atomic
def directory_import_cancel(*, job: DirectoryImport, by: User) -> DirectoryImport:
    """Cancel an upload whose strict check found problems: its stored file is deleted (after
    commit) and nothing is imported."""
    job = _review_lock(job=job, by=by)
    name = job.upload.name
    storage = job.upload.storage
    job.status, job.upload = DirectoryImportStatus.CANCELLED, ""
    job.finished_at = timezone.now()
    job.summary = gettext("Cancelled; the uploaded file was deleted and nothing was imported.")
    job.save(update_fields=["status", "upload", "finished_at", "summary"])
    if name:
        transaction.on_commit(lambda: storage.delete(name))
    return job
