"""Directory admin for network admins: upload import, listings report, service types."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from directory.models import DirectoryImport, ServicePage, TaxonomyTerm
from network.models import Role
from tests.directory.factories import hsds_minimal, hsds_write


def _zip(folder) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in folder.iterdir():
            archive.write(path, path.name)
    return buffer.getvalue()


@pytest.mark.django_db
def test_network_admin_uploads_an_import_that_runs_as_a_task(
    client, tenant_a, tmp_path, django_capture_on_commit_callbacks
):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    upload = SimpleUploadedFile("directory.zip", _zip(hsds_write(tmp_path / "p", hsds_minimal())))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("directory_admin:import_index"),
            {"network": tenant_a.network.pk, "upload": upload},
        )
    job = DirectoryImport.objects.get()
    assert response["Location"] == reverse("directory_admin:import_detail", args=[job.pk])
    assert job.status == "done"
    assert "service: 1 created" in job.summary
    detail = client.get(response["Location"]).content.decode()
    assert "Imported" in detail
    assert 'http-equiv="refresh"' not in detail
    assert ServicePage.objects.count() == 1


@pytest.mark.django_db
def test_bad_upload_lists_every_problem_and_imports_nothing(
    client, tenant_a, tmp_path, django_capture_on_commit_callbacks
):
    tables = hsds_minimal()
    tables["services"][0]["status"] = "open"
    tables["locations"][0]["latitude"] = "95"
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    upload = SimpleUploadedFile("bad.zip", _zip(hsds_write(tmp_path / "p", tables)))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("directory_admin:import_index"),
            {"network": tenant_a.network.pk, "upload": upload},
        )
    job = DirectoryImport.objects.get()
    assert job.status == "review"
    assert any(p.startswith("services.csv row 1, status") for p in job.problems)
    # Coordinates out of range are a repair, not a problem: reported, never refused.
    assert ["locations.csv", 1, "latitude"] in [line[:3] for line in job.findings]
    assert not any(p.startswith("locations.csv") for p in job.problems)
    body = client.get(response["Location"]).content.decode()
    assert "&#x27;open&#x27; is not one of" in body
    assert "Import the valid records" in body
    assert ServicePage.objects.count() == 0


@pytest.mark.django_db
def test_upload_of_wrong_kind_is_refused_in_the_form(client, tenant_a):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    response = client.post(
        reverse("directory_admin:import_index"),
        {
            "network": tenant_a.network.pk,
            "upload": SimpleUploadedFile("directory.xlsx", b"not a package"),
        },
    )
    assert response.status_code == 400
    assert "Upload a .zip Tabular Data Package or a .json file" in response.content.decode()
    assert not DirectoryImport.objects.exists()


@pytest.mark.django_db
def test_admin_cannot_import_into_or_see_another_networks_imports(
    client, tenant_a, tenant_b, tmp_path
):
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    upload = SimpleUploadedFile("d.zip", _zip(hsds_write(tmp_path / "p", hsds_minimal())))
    response = client.post(
        reverse("directory_admin:import_index"), {"network": tenant_b.network.pk, "upload": upload}
    )
    assert response.status_code == 400
    assert not DirectoryImport.objects.exists()
    other = DirectoryImport.objects.create(
        network=tenant_b.network, original_name="b.zip", upload=SimpleUploadedFile("b.zip", b"x")
    )
    assert client.get(reverse("directory_admin:import_detail", args=[other.pk])).status_code == 404
    assert "b.zip" not in client.get(reverse("directory_admin:import_index")).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.AGENCY_ADMIN, Role.AGENCY_STAFF, Role.CLINIC_ADMIN, Role.CLINIC_STAFF]
)
def test_other_roles_cannot_import_or_see_the_report(client, tenant_a, role):
    client.force_login(tenant_a.users[role])
    for name in ("directory_admin:import_index", "directory_admin:listings_report"):
        response = client.get(reverse(name))
        assert response.status_code in {302, 403}, (role, name)


@pytest.mark.django_db
def test_listings_report_shows_own_network_only(client, tenant_a, tenant_b, tmp_path):
    from directory.hsds.importing import directory_import
    from directory.hsds.reading import read

    directory_import(
        network=tenant_b.network, dataset=read(hsds_write(tmp_path / "p", hsds_minimal()))
    )
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    body = client.get(reverse("directory_admin:listings_report")).content.decode()
    assert tenant_a.network.name in body
    assert "Orick Food Cupboard" not in body
    client.force_login(tenant_b.users[Role.NETWORK_ADMIN])
    body = client.get(reverse("directory_admin:listings_report")).content.decode()
    assert "Orick Food Cupboard" in body


@pytest.mark.django_db
def test_service_types_are_scoped_to_the_network(client, tenant_a, tenant_b):
    mine = TaxonomyTerm.objects.create(network=tenant_a.network, code="food", name="Food help")
    theirs = TaxonomyTerm.objects.create(network=tenant_b.network, code="food", name="B food")
    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    listing = client.get(reverse("wagtailsnippets_directory_taxonomyterm:list"))
    assert "Food help" in listing.content.decode()
    assert "B food" not in listing.content.decode()
    edit = reverse("wagtailsnippets_directory_taxonomyterm:edit", args=[theirs.pk])
    assert client.get(edit).status_code == 404
    response = client.post(
        reverse("wagtailsnippets_directory_taxonomyterm:add"),
        {
            "network": tenant_a.network.pk,
            "name": "Pantries",
            "code": "pantry",
            "description": "",
            "parent": mine.pk,
            "taxonomy": "Service types",
        },
    )
    assert response.status_code == 302
    assert TaxonomyTerm.objects.get(code="pantry").parent == mine


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "directory_admin:listings_report",
        "directory_admin:import_index",
        "wagtailsnippets_directory_taxonomyterm:list",
    ],
)
def test_admin_lists_query_count_does_not_grow(client, tenant_a, name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from directory import services
    from directory.models import AgencyPage, Location

    index = services.directory_index_for(tenant_a.network)

    def grow(n: int) -> None:
        for _ in range(n):
            count = AgencyPage.objects.count()
            agency = AgencyPage(title=f"Agency {count}", slug=f"agency-{count}", description=".")
            index.add_child(instance=agency)
            location = Location.objects.create(
                page=agency,
                name="Main",
                address_1="1 Main St",
                city="Eureka",
                state_province="CA",
                postal_code="00000",
            )
            services.location_points_refresh(locations=[location])
            DirectoryImport.objects.create(
                network=tenant_a.network,
                original_name=f"{count}.zip",
                upload=SimpleUploadedFile(f"{count}.zip", b"x"),
                uploaded_by=tenant_a.users[Role.NETWORK_ADMIN],
            )
            TaxonomyTerm.objects.create(
                network=tenant_a.network, code=f"t{count}", name=f"Term {count}"
            )

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse(name)).status_code == 200
        return len(ctx.captured_queries)

    client.force_login(tenant_a.users[Role.NETWORK_ADMIN])
    grow(2)
    small = queries()
    grow(8)
    assert queries() == small
