"""HSDS zips are bounded (members, bytes once expanded, declared or not) and one import runs per
network at a time."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from directory.hsds import import_jobs
from directory.hsds.import_jobs import directory_import_run
from directory.hsds.reading import ReadError, read
from directory.hsds.uploads import ImportRunning, directory_import_start
from directory.models import DirectoryImport, DirectoryImportStatus, ServicePage
from network.models import Role
from tests.directory.factories import directory_counts, hsds_minimal, hsds_write

pytestmark = pytest.mark.django_db
MB = 1024 * 1024
UPLOAD = reverse("directory_admin:import_index")


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.HSDS_IMPORT_MAX_MEMBERS = 30
    settings.HSDS_IMPORT_MAX_UNCOMPRESSED_BYTES = 2 * MB


def _package_zip(folder: Path, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _bomb(tmp_path: Path, *, members: int, each: int) -> bytes:
    """A valid package plus ``members`` files of ``each`` spaces: tiny zipped, big expanded."""
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    return _package_zip(folder, {f"pad{n:03d}.csv": b" " * each for n in range(members)})


def _lying(tmp_path: Path, *, real: int, declared: int) -> bytes:
    """A package whose services.csv expands to ``real`` bytes while the zip says ``declared``."""
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            if path.name != "services.csv":
                archive.write(path, path.name)
        original = (folder / "services.csv").read_bytes()
        content = original + b"\n" * (real - len(original))
        info = zipfile.ZipInfo("services.csv")
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, content)
        info.file_size = declared  # the central directory, written on close, now lies
    return buffer.getvalue()


def _save(tmp_path: Path, content: bytes, name: str = "upload.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


# --- reading -----------------------------------------------------------------------------------


def test_a_zip_with_too_many_members_is_refused_before_reading(tmp_path):
    content = _bomb(tmp_path, members=40, each=10)
    with pytest.raises(ReadError, match=r"holds \d+ files; an import may hold at most 30"):
        read(_save(tmp_path, content))


def test_a_zip_that_expands_too_far_is_refused_from_its_directory(tmp_path):
    content = _bomb(tmp_path, members=3, each=1 * MB)  # 3 MB expanded, a few KB zipped
    assert len(content) < 50_000
    with pytest.raises(ReadError, match=r"expands to 3\.0 MB; an import may expand to at most 2"):
        read(_save(tmp_path, content))


def test_a_zip_that_lies_about_its_sizes_is_stopped_while_reading(tmp_path):
    path = _save(tmp_path, _lying(tmp_path, real=20 * MB, declared=300))
    tracemalloc.start()
    try:
        with pytest.raises(ReadError, match=r"damaged|expands"):
            read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB  # nothing near the 20 MB it really holds was decompressed


def test_reading_stops_at_the_limit_whatever_the_directory_says(tmp_path, settings):
    """The bytes that come out are counted, so a directory check fooled or skipped still
    stops at the limit."""
    settings.HSDS_IMPORT_MAX_UNCOMPRESSED_BYTES = 1 * MB
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    with (folder / "organizations.csv").open("ab") as handle:
        handle.write(b"\n" * (2 * MB))
    path = _save(tmp_path, _package_zip(folder))
    with (
        mock.patch("directory.hsds.reading.zip_check", return_value=None),
        pytest.raises(ReadError, match=r"organizations\.csv expands to more than 1\.0 MB"),
    ):
        read(path)


def test_a_damaged_zip_is_refused_clearly(tmp_path):
    content = bytearray(_package_zip(hsds_write(tmp_path / "p", hsds_minimal())))
    middle = len(content) // 3
    content[middle : middle + 200] = b"\xff" * 200
    path = _save(tmp_path, bytes(content))
    with pytest.raises(ReadError):
        read(path)


def test_the_command_refuses_a_bomb_and_imports_nothing(tmp_path, tenant_a):
    before = directory_counts()
    path = _save(tmp_path, _bomb(tmp_path, members=3, each=1 * MB))
    with pytest.raises(CommandError, match="an import may expand to at most"):
        call_command("hsds_import", str(path), network=tenant_a.network.slug)
    assert directory_counts() == before


# --- the admin upload --------------------------------------------------------------------------


def _upload(client, network, content: bytes, name: str = "directory.zip"):  # type: ignore[no-untyped-def]
    return client.post(UPLOAD, {"network": network.pk, "upload": SimpleUploadedFile(name, content)})


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ({"members": 40, "each": 10}, "an import may hold at most 30"),
        ({"members": 15, "each": 300_000}, "an import may expand to at most 2.0 MB"),
    ],
)
def test_the_upload_refuses_a_bomb_at_once_and_stores_nothing(
    client, tenant_a, tmp_path, shape, message
):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    response = _upload(client, tenant_a.network, _bomb(tmp_path, **shape))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not DirectoryImport.objects.exists()


def test_a_lying_upload_fails_in_the_task_and_imports_nothing(
    client, tenant_a, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, tenant_a.network, _lying(tmp_path, real=5 * MB, declared=300))
    assert response.status_code == 302
    job = DirectoryImport.objects.get()
    assert job.status == DirectoryImportStatus.FAILED
    assert len(job.problems) == 1
    assert "damaged" in job.problems[0] or "expands" in job.problems[0]
    assert ServicePage.objects.count() == 0


# --- one import per network --------------------------------------------------------------------


def test_a_second_upload_while_one_is_unfinished_is_refused(
    client, tenant_a, tenant_b, tmp_path, django_capture_on_commit_callbacks
):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    client.force_login(admin)
    package = _package_zip(hsds_write(tmp_path / "p", hsds_minimal()))
    with django_capture_on_commit_callbacks(execute=False):  # the worker has not started it
        assert _upload(client, tenant_a.network, package, "first.zip").status_code == 302
    response = _upload(client, tenant_a.network, package, "second.zip")
    assert response.status_code == 400
    body = response.content.decode()
    assert "is still running (first.zip" in body
    assert list(DirectoryImport.objects.values_list("original_name", flat=True)) == ["first.zip"]

    # Running counts too; another network is not blocked.
    DirectoryImport.objects.update(status=DirectoryImportStatus.RUNNING)
    assert _upload(client, tenant_a.network, package, "third.zip").status_code == 400
    other = tenant_b.users[Role.NETWORK_ADMIN]
    client.force_login(other)
    assert _upload(client, tenant_b.network, package, "b.zip").status_code == 302


def test_a_finished_failed_or_stale_import_does_not_block(client, tenant_a, tmp_path, settings):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    package = _package_zip(hsds_write(tmp_path / "p", hsds_minimal()))
    job = DirectoryImport.objects.create(
        network=tenant_a.network,
        original_name="old.zip",
        upload=SimpleUploadedFile("old.zip", b"x"),
        status=DirectoryImportStatus.RUNNING,
    )
    # A worker that died two hours ago no longer holds the network.
    DirectoryImport.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - timedelta(minutes=settings.HSDS_IMPORT_STALE_MINUTES + 1)
    )
    assert _upload(client, tenant_a.network, package, "new.zip").status_code == 302
    DirectoryImport.objects.update(status=DirectoryImportStatus.FAILED)
    assert _upload(client, tenant_a.network, package, "newer.zip").status_code == 302


def test_an_unexpected_error_in_the_task_releases_the_network(
    client, tenant_a, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    package = _package_zip(hsds_write(tmp_path / "p", hsds_minimal()))
    with (
        mock.patch.object(import_jobs, "directory_import", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
        django_capture_on_commit_callbacks(execute=True),
    ):
        _upload(client, tenant_a.network, package, "first.zip")
    job = DirectoryImport.objects.get()
    assert job.status == DirectoryImportStatus.FAILED
    assert "unexpected error" in job.summary
    assert _upload(client, tenant_a.network, package, "again.zip").status_code == 302


def test_a_task_delivered_twice_runs_once(tenant_a, tmp_path):
    package = _package_zip(hsds_write(tmp_path / "p", hsds_minimal()))
    job = directory_import_start(
        network=tenant_a.network,
        upload=SimpleUploadedFile("d.zip", package),
        by=tenant_a.users[Role.NETWORK_ADMIN],
    )
    assert directory_import_run(import_id=job.pk).status == DirectoryImportStatus.DONE
    with mock.patch.object(import_jobs, "directory_import") as again:
        assert directory_import_run(import_id=job.pk).status == DirectoryImportStatus.DONE
    again.assert_not_called()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; run with DATABASE_URL=postgres://…",
)
# Serialized: its teardown must leave the migrated rows for the tests that restore them.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_uploads_at_the_same_moment_start_one_import(tmp_path):
    """The network row is locked while the check runs: of two simultaneous uploads into one
    network, one starts and the other is refused (PostgreSQL: SQLite has one writer anyway)."""
    import threading

    from tests.network.factories import tenant_make

    tenant = tenant_make("Race")
    admin = tenant.users[Role.NETWORK_ADMIN]
    package = _package_zip(hsds_write(tmp_path / "p", hsds_minimal()))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def upload(name: str) -> None:
        try:
            barrier.wait(timeout=30)
            directory_import_start(
                network=tenant.network, upload=SimpleUploadedFile(name, package), by=admin
            )
            outcomes.append("started")
        except ImportRunning:
            outcomes.append("refused")
        finally:
            connection.close()

    # The worker does not pick the job up, so the first import stays unfinished.
    with mock.patch("directory.tasks.directory_import_run.delay"):
        threads = [threading.Thread(target=upload, args=(f"{n}.zip",)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(outcomes) == ["refused", "started"]
    assert DirectoryImport.objects.filter(network=tenant.network).count() == 1


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="row locks need PostgreSQL; run with DATABASE_URL=postgres://…",
)
def test_every_import_locks_its_network_row(tenant_a, tmp_path):
    """Whoever calls it (the command, an upload's task, a feed sync), an import holds its
    network's row until it commits: two writers never compute the same tree paths."""
    from django.test.utils import CaptureQueriesContext

    from directory.hsds.importing import directory_import

    dataset = read(hsds_write(tmp_path / "p", hsds_minimal()))
    with CaptureQueriesContext(connection) as queries:
        directory_import(network=tenant_a.network, dataset=dataset)
    locks = [
        q["sql"]
        for q in queries.captured_queries
        if '"network_network"' in q["sql"] and "FOR UPDATE" in q["sql"]
    ]
    assert locks, "the import did not lock the network row"
    assert str(tenant_a.network.pk) in locks[0]
