"""Running an uploaded HSDS file's import (the import task's work), with its progress in the
cache for the admin page to show."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from django.core.cache import cache
from django.utils import timezone

from cms.bulk import gc_paused

from ..models import DirectoryImport, DirectoryImportStatus
from .importing import directory_import
from .reading import ReadError, read
from .records import Finding, InvalidImport


def findings_rows(findings: list[Finding]) -> list[list[object]]:
    """The report as stored on the job: one [file, row, field, problem, action] list each."""
    return [[f.file, f.row, f.field, f.problem, f.action] for f in findings]


def import_progress_key(import_id: int) -> str:
    return f"handoff:directory-import:{import_id}:progress"


@gc_paused()
def directory_import_run(*, import_id: int) -> DirectoryImport:
    """Run a queued upload (the task's work): record the report, or every problem found."""
    job = DirectoryImport.objects.select_related("network").get(pk=import_id)
    claimed = DirectoryImport.objects.filter(pk=job.pk, status=DirectoryImportStatus.QUEUED).update(
        status=DirectoryImportStatus.RUNNING
    )
    if not claimed:  # a task delivered twice: the first delivery runs (or ran) it
        return job
    key = import_progress_key(job.pk)

    def progress(done: int, total: int) -> None:
        cache.set(key, (done, total), 3600)

    suffix = Path(job.original_name).suffix.lower()
    try:
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / f"upload{suffix}"
            with job.upload.open("rb") as source, local.open("wb") as target:
                shutil.copyfileobj(source, target)
            report = directory_import(
                network=job.network,
                dataset=read(local),
                progress=progress,
                skip_invalid=job.skip_invalid,
            )
    except InvalidImport as exc:
        job.problems = [str(p) for p in exc.problems]
        job.warnings = [str(w) for w in exc.warnings]
        job.findings = findings_rows(exc.findings)
        # Records can be skipped unless the file as a whole is unreadable (a problem with no row).
        can_skip = not job.skip_invalid and any(p.row is not None for p in exc.problems)
        job.status = DirectoryImportStatus.REVIEW if can_skip else DirectoryImportStatus.FAILED
        job.summary = f"{len(exc.problems)} problem(s) found; nothing was imported."
    except ReadError as exc:
        job.status, job.problems = DirectoryImportStatus.FAILED, [str(exc)]
        job.summary = f"{len(job.problems)} problem(s) found; nothing was imported."
    except BaseException:
        # Whatever stopped it, the job is over: the next upload into the network may run.
        DirectoryImport.objects.filter(pk=job.pk).update(
            status=DirectoryImportStatus.FAILED,
            summary="The import stopped on an unexpected error; nothing was imported.",
            finished_at=timezone.now(),
        )
        raise
    else:
        job.status = DirectoryImportStatus.DONE
        job.summary = report.summary() if report.changed else "Nothing changed."
        job.warnings = [str(w) for w in report.warnings]
        job.findings = findings_rows(report.findings)
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "summary", "problems", "warnings", "findings", "finished_at"])
    return job
