"""Object storage: with a bucket configured, public media and private files (consent forms,
agreements, HSDS packages) live in S3, private ones in a private bucket with no URL, encrypted
at rest, read back only through the checked download views. Against a real local S3 server
(moto's), so that the bytes, ACLs and encryption are the server's answers."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.images import ImageFile
from django.core.files.storage import default_storage, storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from PIL import Image as PillowImage
from wagtail.documents import get_document_model
from wagtail.images import get_image_model
from wagtail.models import Collection

from cms.object_storage import storages_from_env
from cms.s3_storage import PrivateS3Storage
from cms.storage import private_storage
from consent import services as consent_services
from consent.models import AccessLog, Consent
from directory.hsds.import_jobs import directory_import_run
from directory.hsds.uploads import directory_import_start
from directory.models import DirectoryImport, DirectoryImportStatus
from tests.cms.s3_support import moto_server, s3_client
from tests.conftest import act_as
from tests.directory.factories import hsds_minimal, hsds_write
from tests.referrals.factories import Loop

MEDIA_BUCKET = "handoff-media"
PRIVATE_BUCKET = "handoff-private"
SHARED_BUCKET = "handoff-shared"
CLIENT_NAME = "Zed Marker"
PDF = f"%PDF-1.4\n1 0 obj <<>> endobj\nsigned by the client {CLIENT_NAME}\n%%EOF\n".encode()
STATIC = "django.contrib.staticfiles.storage.StaticFilesStorage"

Document = get_document_model()
Image = get_image_model()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A local S3-compatible server (moto), with the buckets a deployment would create."""
    with moto_server() as endpoint:
        s3 = _client(endpoint)
        for bucket in (MEDIA_BUCKET, PRIVATE_BUCKET, SHARED_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield endpoint


_client = s3_client


def _environ(endpoint: str, **more: str) -> dict[str, str]:
    return {
        "AWS_STORAGE_BUCKET_NAME": MEDIA_BUCKET,
        "AWS_PRIVATE_BUCKET_NAME": PRIVATE_BUCKET,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **more,
    }


def _buckets_emptied(endpoint: str) -> None:
    s3 = _client(endpoint)
    for bucket in (MEDIA_BUCKET, PRIVATE_BUCKET, SHARED_BUCKET):
        for key in _keys(s3, bucket):
            s3.delete_object(Bucket=bucket, Key=key)


@pytest.fixture
def use_storages(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, str]], None]]:
    """``use(environ)``: STORAGES as ``environ`` makes them, for the test. The file fields that
    chose their storage when the models loaded get the new private one; afterwards the storage
    handler hands out the very instances it did before (the fields hold those)."""
    kept = {alias: storages[alias] for alias in ("default", "private")}
    with ExitStack() as stack:

        def use(environ: dict[str, str]) -> None:
            _buckets_emptied(environ["AWS_S3_ENDPOINT_URL"])
            built = storages_from_env(
                environ=environ, private_root=Path("/nonexistent"), staticfiles_backend=STATIC
            )
            stack.enter_context(override_settings(STORAGES=built))
            for model, field in ((Consent, "signed_form"), (DirectoryImport, "upload")):
                monkeypatch.setattr(model._meta.get_field(field), "storage", private_storage())

        yield use
    storages._storages.update(kept)


@pytest.fixture
def s3(s3_endpoint: str, use_storages: Callable[[dict[str, str]], None]) -> Any:
    """Separate public and private buckets; the S3 client to look at them directly."""
    use_storages(_environ(s3_endpoint))
    return _client(s3_endpoint)


def _keys(s3: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _assert_private_and_encrypted(s3: Any, endpoint: str, bucket: str, key: str) -> None:
    assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "AES256"
    grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"]  # the owner's, nobody else's
    assert all(g["Grantee"]["Type"] == "CanonicalUser" for g in grants)
    anonymous = requests.get(f"{endpoint}/{bucket}/{key}", timeout=10)
    assert anonymous.status_code == 403
    assert CLIENT_NAME.encode() not in anonymous.content


# --- the settings ------------------------------------------------------------------------------


def test_without_a_bucket_files_stay_on_the_local_filesystem(tmp_path):
    storages = storages_from_env(environ={}, private_root=tmp_path, staticfiles_backend=STATIC)
    assert storages["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert storages["private"] == {
        "BACKEND": "cms.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": tmp_path},
    }
    assert storages["staticfiles"] == {"BACKEND": STATIC}


def test_with_a_bucket_both_storages_are_s3_encrypted_and_never_overwrite(tmp_path):
    storages = storages_from_env(
        environ={"AWS_STORAGE_BUCKET_NAME": "media-bucket"},
        private_root=tmp_path,
        staticfiles_backend=STATIC,
    )
    public, private = storages["default"], storages["private"]
    assert public["BACKEND"] == "storages.backends.s3.S3Storage"
    assert private["BACKEND"] == "cms.s3_storage.PrivateS3Storage"
    for options in (public["OPTIONS"], private["OPTIONS"]):
        assert options["object_parameters"] == {"ServerSideEncryption": "AES256"}
        assert options["default_acl"] is None
        assert options["file_overwrite"] is False
        assert "access_key" not in options  # boto3's own chain (an instance role) supplies it
    # One bucket: the private files under their own prefix.
    assert (public["OPTIONS"]["bucket_name"], public["OPTIONS"]["location"]) == (
        "media-bucket",
        "media",
    )
    assert (private["OPTIONS"]["bucket_name"], private["OPTIONS"]["location"]) == (
        "media-bucket",
        "private",
    )
    assert "custom_domain" not in private["OPTIONS"]


def test_encryption_can_be_turned_off_and_a_cdn_serves_media(tmp_path):
    storages = storages_from_env(
        environ={
            "AWS_STORAGE_BUCKET_NAME": "m",
            "AWS_S3_SSE": "off",
            "AWS_S3_CUSTOM_DOMAIN": "media.example.org",
        },
        private_root=tmp_path,
        staticfiles_backend=STATIC,
    )
    assert storages["default"]["OPTIONS"]["object_parameters"] == {}
    assert storages["default"]["OPTIONS"]["custom_domain"] == "media.example.org"
    assert "custom_domain" not in storages["private"]["OPTIONS"]


# --- private files -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_signed_form_goes_to_the_private_bucket_and_back_through_the_checked_view(
    client, loop: Loop, s3, s3_endpoint
):
    http = act_as(client, loop.clinic_staff, loop.clinic)
    consent = consent_services.consent_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["food-insecurity"],
        method="signed_form",
        whole_network=True,
        signed_form=SimpleUploadedFile(f"{CLIENT_NAME} consent.pdf", PDF, "application/pdf"),
    )
    name = consent.signed_form.name
    assert _keys(s3, PRIVATE_BUCKET) == [name]
    assert not any(key.endswith(name) for key in _keys(s3, MEDIA_BUCKET))
    _assert_private_and_encrypted(s3, s3_endpoint, PRIVATE_BUCKET, name)
    assert isinstance(private_storage(), PrivateS3Storage)
    with pytest.raises(NotImplementedError):
        private_storage().url(name)  # no URL, signed or not

    before = AccessLog.objects.filter(client=loop.client).count()
    response = http.get(reverse("consent:signed_form_download", args=[consent.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert AccessLog.objects.filter(client=loop.client).count() == before + 1

    act_as(client, loop.agency_staff, loop.food_agency)  # not the client's clinic
    refused = client.get(reverse("consent:signed_form_download", args=[consent.pk]))
    assert refused.status_code == 404


@pytest.mark.django_db
def test_a_signed_agreement_shares_the_bucket_under_the_private_prefix(
    client, loop: Loop, s3_endpoint, use_storages
):
    """One bucket for both: documents go under ``private/``, media under ``media/``."""
    environ = _environ(s3_endpoint, AWS_STORAGE_BUCKET_NAME=SHARED_BUCKET)
    del environ["AWS_PRIVATE_BUCKET_NAME"]
    use_storages(environ)
    s3 = _client(s3_endpoint)
    document = Document(
        title="Food agreement", collection=Collection.objects.get(name=loop.tenant.network.name)
    )
    document.file.save(f"Signed agreement {CLIENT_NAME}.pdf", ContentFile(PDF), save=False)
    document.save()
    consent_services.agreement_document_attach(
        agreement=loop.agreements["food"], document=document, by=loop.admin
    )
    key = f"private/{document.file.name}"
    assert key in _keys(s3, SHARED_BUCKET)
    assert CLIENT_NAME not in key
    _assert_private_and_encrypted(s3, s3_endpoint, SHARED_BUCKET, key)

    client.force_login(loop.admin)
    url = reverse("wagtaildocs_serve", args=[document.pk, document.filename])
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    client.force_login(loop.clinic_staff)  # the agreement is the agency's
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_an_hsds_upload_is_imported_by_the_worker_from_the_private_bucket(
    loop: Loop, s3, s3_endpoint, tmp_path
):
    """The task reads the package through the storage (a bucket has no local path)."""
    folder = hsds_write(tmp_path / "p", hsds_minimal())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, path.name)
    job = directory_import_start(
        network=loop.tenant.network,
        upload=SimpleUploadedFile("directory.zip", buffer.getvalue()),
        by=loop.admin,
    )
    assert _keys(s3, PRIVATE_BUCKET) == [job.upload.name]
    _assert_private_and_encrypted(s3, s3_endpoint, PRIVATE_BUCKET, job.upload.name)
    done = directory_import_run(import_id=job.pk)
    assert done.status == DirectoryImportStatus.DONE, done.problems


# --- public media ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_image_rendition_has_a_url_that_serves_it(s3, s3_endpoint):
    png = io.BytesIO()
    PillowImage.new("RGB", (40, 20), (200, 30, 30)).save(png, "PNG")
    image = Image.objects.create(
        title="Food bank front door", file=ImageFile(png, name="front-door.png")
    )
    assert any(key.startswith("media/original_images/") for key in _keys(s3, MEDIA_BUCKET))
    assert not _keys(s3, PRIVATE_BUCKET)

    rendition = image.get_rendition("width-10")
    assert rendition.url.startswith(f"{s3_endpoint}/{MEDIA_BUCKET}/media/images/")
    assert "X-Amz-Signature=" in rendition.url  # a private bucket: a signed, expiring URL
    fetched = requests.get(rendition.url, timeout=10)
    assert fetched.status_code == 200
    assert PillowImage.open(io.BytesIO(fetched.content)).size == (10, 5)
    assert default_storage.url(image.file.name).startswith(s3_endpoint)
