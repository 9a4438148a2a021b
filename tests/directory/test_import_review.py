"""The admin's preview of an upload with problems: counts, the first lines, the CSV report, and
"import the valid records" or "cancel"; only the network's admins, never another network's."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from directory.models import DirectoryImport, ServicePage
from network.models import Role
from tests.directory.factories import ORG, SVC, hsds_minimal, hsds_write


def _zip(folder) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            archive.write(path, path.name)
    return buffer.getvalue()


def _bad_tables(extra_bad_services: int = 0):
    tables = hsds_minimal()
    bad = {"organization_id": ORG, "name": "Broken", "status": "open"}
    tables["services"] += [{**bad, "id": str(uuid.uuid4())} for _ in range(1 + extra_bad_services)]
    return tables


def _upload(client, network, tmp_path, tables, capture):
    folder = hsds_write(tmp_path / f"p{uuid.uuid4().hex[:6]}", tables)
    with capture(execute=True):
        client.post(
            reverse("directory_admin:import_index"),
            {"network": network.pk, "upload": SimpleUploadedFile("bad.zip", _zip(folder))},
        )
    return DirectoryImport.objects.order_by("-pk").first()


@pytest.fixture
def review(client, tenant_a, tmp_path, django_capture_on_commit_callbacks):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    job = _upload(
        client, tenant_a.network, tmp_path, _bad_tables(), django_capture_on_commit_callbacks
    )
    assert job.status == "review"
    assert not ServicePage.objects.exists()
    return job


@pytest.mark.django_db
def test_preview_shows_counts_first_lines_and_the_choice(client, review):
    body = client.get(reverse("directory_admin:import_detail", args=[review.pk])).content.decode()
    assert "Problems found: nothing has been imported yet" in body
    assert "1 problem: the record it is in will be left out." in body
    assert "<td>services.csv</td><td>2</td><td>status</td>" in body
    assert reverse("directory_admin:import_report", args=[review.pk]) in body
    assert reverse("directory_admin:import_valid_records", args=[review.pk]) in body
    assert reverse("directory_admin:import_cancel", args=[review.pk]) in body


@pytest.mark.django_db
def test_report_downloads_as_csv(client, review):
    response = client.get(reverse("directory_admin:import_report", args=[review.pk]))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["file", "row", "field", "problem", "what was done"]
    assert rows[1][:3] == ["services.csv", "2", "status"]
    assert rows[1][4] == "refused: nothing was imported"


@pytest.mark.django_db
def test_import_the_valid_records_runs_the_import_task(
    client, review, django_capture_on_commit_callbacks
):
    url = reverse("directory_admin:import_valid_records", args=[review.pk])
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response["Location"] == reverse("directory_admin:import_detail", args=[review.pk])
    review.refresh_from_db()
    assert (review.status, review.skip_invalid) == ("done", True)
    assert list(ServicePage.objects.values_list("hsds_id", flat=True)) == [uuid.UUID(SVC)]
    assert [line[3:] for line in review.findings] == [
        ["'open' is not one of: active, inactive, defunct, temporarily closed", "record skipped"]
    ]
    body = client.get(response["Location"]).content.decode()
    assert "record skipped" in body
    # Decided once: a second decision is refused with a message, nothing changes.
    assert client.post(url, follow=True).status_code == 200
    assert ServicePage.objects.count() == 1


@pytest.mark.django_db
def test_cancel_deletes_the_upload_and_imports_nothing(
    client, review, django_capture_on_commit_callbacks
):
    storage, name = review.upload.storage, review.upload.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("directory_admin:import_cancel", args=[review.pk]))
    assert response["Location"] == reverse("directory_admin:import_index")
    review.refresh_from_db()
    assert review.status == "cancelled"
    assert not storage.exists(name)
    assert not ServicePage.objects.exists()
    response = client.post(reverse("directory_admin:import_valid_records", args=[review.pk]))
    review.refresh_from_db()
    assert review.status == "cancelled"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.AGENCY_ADMIN, Role.AGENCY_STAFF, Role.CLINIC_ADMIN, Role.CLINIC_STAFF]
)
def test_other_roles_cannot_see_or_decide(client, review, tenant_a, role):
    client.force_login(tenant_a.users[role])
    for name in ("import_detail", "import_report"):
        response = client.get(reverse(f"directory_admin:{name}", args=[review.pk]))
        assert response.status_code in {302, 403, 404}, (role, name)
        assert b"services.csv" not in response.content
    for name in ("import_valid_records", "import_cancel"):
        response = client.post(reverse(f"directory_admin:{name}", args=[review.pk]))
        assert response.status_code in {302, 403, 404}, (role, name)
    review.refresh_from_db()
    assert review.status == "review"


@pytest.mark.django_db
def test_another_networks_admin_gets_404(client, review, tenant_b):
    client.force_login(tenant_b.users[Role.NETWORK_ADMIN])
    for name in ("import_detail", "import_report"):
        response = client.get(reverse(f"directory_admin:{name}", args=[review.pk]))
        assert response.status_code == 404, name
    for name in ("import_valid_records", "import_cancel"):
        assert client.post(reverse(f"directory_admin:{name}", args=[review.pk])).status_code == 404
    review.refresh_from_db()
    assert review.status == "review"
    assert review.upload.storage.exists(review.upload.name)
    assert "bad.zip" not in client.get(reverse("directory_admin:import_index")).content.decode()


@pytest.mark.django_db
def test_preview_query_count_does_not_grow_with_problems(
    client, tenant_a, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])

    def queries(extra: int) -> tuple[int, str]:
        job = _upload(
            client,
            tenant_a.network,
            tmp_path,
            _bad_tables(extra),
            django_capture_on_commit_callbacks,
        )
        DirectoryImport.objects.filter(pk=job.pk).update(status="review")
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(reverse("directory_admin:import_detail", args=[job.pk])).content
        DirectoryImport.objects.filter(pk=job.pk).update(status="cancelled")
        return len(ctx.captured_queries), body.decode()

    few, _ = queries(0)
    many, body = queries(80)
    assert many == few
    assert "The first 50 of 81 lines." in body
