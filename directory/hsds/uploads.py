"""HSDS files network admins upload: checked at once, stored, and queued for import (one import
per network at a time). ``directory.hsds.import_jobs`` runs them."""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta

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
from .reading import MAX_FILE_BYTES, ReadError, zip_check

IMPORT_SUFFIXES = (".zip", ".json", ".ndjson")


class ImportRunning(ValidationError):
    """Another import into the same network is queued or running."""


def directory_import_unfinished(*, network: Network, now: datetime) -> DirectoryImport | None:
    """The network's import still queued or running, if any (one stuck for longer than
    ``HSDS_IMPORT_STALE_MINUTES`` no longer counts: its worker died)."""
    since = now - timedelta(minutes=settings.HSDS_IMPORT_STALE_MINUTES)
    return (
        DirectoryImport.objects.filter(
            network=network,
            status__in=[DirectoryImportStatus.QUEUED, DirectoryImportStatus.RUNNING],
            created_at__gte=since,
        )
        .order_by("-created_at")
        .first()
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
    running = directory_import_unfinished(network=network, now=timezone.now())
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
