"""Files that hold client data are private: signed consent forms and signed data-sharing agreements
live in the private storage under random names, and leave it only through views that check the
actor, answer with an attachment nobody caches, and log the download."""

from __future__ import annotations

import html

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from wagtail.documents import get_document_model
from wagtail.models import Collection, ModelLogEntry

from cms.storage import PrivateFileSystemStorage, private_storage
from consent import services as consent_services
from consent.models import AccessLog, Consent
from referrals.forms import consent_script
from tests.conftest import act_as
from tests.referrals.factories import Loop

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\nsigned by the client Zed Marker\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32
HTML_AS_PDF = b"<!doctype html><html><script>alert(document.cookie)</script></html>"

Document = get_document_model()


def _consent_data(cast: Loop, upload: SimpleUploadedFile) -> dict:
    return {
        "scope": "network",
        "categories": ["food-insecurity"],
        "method": "signed_form",
        "policy": "hipaa",
        "script_shown": consent_script(
            clinic=cast.clinic, recipients=[], categories=["food-insecurity"]
        ),
        "signed_form": upload,
    }


def _upload_form(http: HttpClient, cast: Loop, name: str, content: bytes, mime: str):  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile(name, content, content_type=mime)
    return http.post(
        reverse("referrals:consent_new", args=[cast.client.pk]), _consent_data(cast, upload)
    )


@pytest.fixture
def signed(loop: Loop) -> Consent:
    """A consent recorded with a signed PDF form named after the client."""
    return consent_services.consent_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["food-insecurity"],
        method="signed_form",
        whole_network=True,
        signed_form=SimpleUploadedFile("Zed Marker consent.pdf", PDF, "application/pdf"),
    )


def _download_url(consent: Consent) -> str:
    return reverse("consent:signed_form_download", args=[consent.pk])


# --- storing -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_uploaded_form_is_private_under_a_random_name(client, loop):
    http = act_as(client, loop.clinic_staff, loop.clinic)
    response = _upload_form(http, loop, "Zed Marker consent.pdf", PDF, "application/pdf")
    assert response.status_code == 302
    consent = Consent.objects.get(client=loop.client, method="signed_form")
    name = consent.signed_form.name
    assert name.startswith("consent/forms/")
    assert name.endswith(".pdf")
    assert "Zed" not in name  # nothing of the original name
    assert "Marker" not in name
    assert len(name.rsplit("/", 1)[-1]) == len("0" * 32 + ".pdf")
    assert consent.signed_form_name == "Zed Marker consent.pdf"
    assert private_storage().exists(name)
    assert not default_storage.exists(name)  # never in the public media storage
    disk = PrivateFileSystemStorage(location="/nonexistent")  # the storage of deployments
    with pytest.raises(NotImplementedError):
        disk.url(name)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("consent.pdf", HTML_AS_PDF, "The file is not a PDF, PNG or JPEG image"),
        ("photo.jpg", b"MZ\x90\x00 a windows program", "The file is not a PDF, PNG or JPEG image"),
        ("empty.pdf", b"", "The submitted file is empty."),
    ],
)
def test_a_form_is_checked_by_content_not_by_name(client, loop, name, content, error):
    http = act_as(client, loop.clinic_staff, loop.clinic)
    response = _upload_form(http, loop, name, content, "application/pdf")
    assert response.status_code == 400
    assert error in html.unescape(response.content.decode())
    assert not Consent.objects.filter(method="signed_form").exists()


@pytest.mark.django_db
def test_an_oversize_form_is_refused(client, loop, settings):
    settings.HANDOFF_PRIVATE_UPLOAD_MAX_BYTES = 1024
    http = act_as(client, loop.clinic_staff, loop.clinic)
    response = _upload_form(http, loop, "big.pdf", PDF + b"0" * 2000, "application/pdf")
    assert response.status_code == 400
    assert "The file is larger than 1.0\xa0KB." in html.unescape(response.content.decode())
    assert not Consent.objects.filter(method="signed_form").exists()


@pytest.mark.django_db
def test_a_photo_is_accepted_and_named_by_its_content(client, loop):
    http = act_as(client, loop.clinic_staff, loop.clinic)
    # A PNG uploaded under a .jpg name is stored as what it is.
    assert _upload_form(http, loop, "scan.jpg", PNG, "image/jpeg").status_code == 302
    consent = Consent.objects.get(method="signed_form")
    assert consent.signed_form.name.endswith(".png")


@pytest.mark.django_db
def test_the_service_refuses_a_disguised_file_too(loop):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        consent_services.consent_record(
            client=loop.client,
            by=loop.clinic_staff,
            organization=loop.clinic,
            categories=["food-insecurity"],
            method="signed_form",
            whole_network=True,
            signed_form=SimpleUploadedFile("x.pdf", HTML_AS_PDF, "application/pdf"),
        )
    assert "signed_form" in refused.value.message_dict
    assert not Consent.objects.filter(method="signed_form").exists()


# --- downloading a signed form -----------------------------------------------------------------


@pytest.mark.django_db
def test_the_clients_clinic_downloads_the_form_as_an_attachment_and_it_is_logged(
    client,
    loop,
    signed,
):
    http = act_as(client, loop.clinic_staff, loop.clinic)
    page = http.get(reverse("referrals:client_detail", args=[loop.client.pk]))
    assert _download_url(signed) in page.content.decode()  # linked from the client page
    before = AccessLog.objects.filter(client=loop.client).count()
    for expected in (1, 2):
        response = http.get(_download_url(signed), HTTP_USER_AGENT="pytest")
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "Zed Marker consent.pdf" in response["Content-Disposition"]
        assert response["X-Content-Type-Options"] == "nosniff"
        assert set(response["Cache-Control"].replace(" ", "").split(",")) >= {
            "private",
            "no-store",
        }
        logged = AccessLog.objects.filter(client=loop.client).order_by("pk")
        assert logged.count() == before + expected  # one row per download
    row = logged.last()
    assert (row.user, row.organization, row.purpose, row.fields) == (
        loop.clinic_staff,
        loop.clinic,
        "signed_form_download",
        ["signed_form"],
    )
    assert row.user_agent == "pytest"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who", ["agency_staff", "network_admin", "other_clinic_staff", "other_network_clinic_staff"]
)
def test_anyone_else_gets_404_and_no_bytes(client, loop, other_loop, signed, who, request):
    if who == "agency_staff":
        act_as(client, loop.agency_staff, loop.food_agency)
    elif who == "network_admin":
        act_as(client, loop.admin, None)
    elif who == "other_clinic_staff":
        user = request.getfixturevalue("second_clinic_staff")
        act_as(client, user, user.memberships.get().organization)
    else:
        act_as(client, other_loop.clinic_staff, other_loop.clinic)
    before = AccessLog.objects.count()
    response = client.get(_download_url(signed))
    assert response.status_code == 404
    assert b"Zed Marker" not in response.content
    assert PDF not in response.content
    assert AccessLog.objects.count() == before


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client, signed):
    response = client.get(_download_url(signed))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_the_media_url_serves_nothing_of_an_upload(client, loop, settings, tmp_path, monkeypatch):
    """With the storages of a deployment (directories on disk): the form is under the private
    root, nothing is under MEDIA_ROOT, so neither Django's media view (what DEBUG routes at
    /media/) nor a web server serving MEDIA_ROOT has anything to give."""
    from django.http import Http404
    from django.test import RequestFactory
    from django.views.static import serve

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    # The field's storage is chosen once, when the model loads: give it the deployment's.
    monkeypatch.setattr(
        Consent._meta.get_field("signed_form"),
        "storage",
        PrivateFileSystemStorage(location=tmp_path / "private"),
    )
    http = act_as(client, loop.clinic_staff, loop.clinic)
    response = _upload_form(http, loop, "Zed Marker consent.pdf", PDF, "application/pdf")
    assert response.status_code == 302
    consent = Consent.objects.get(method="signed_form")
    assert (tmp_path / "private" / consent.signed_form.name).read_bytes() == PDF
    assert not any(p.is_file() for p in (tmp_path / "media").rglob("*"))
    for name in (consent.signed_form.name, "consent/forms/2026/12/Zed Marker consent.pdf"):
        with pytest.raises(Http404):
            serve(RequestFactory().get(f"/media/{name}"), name, document_root=tmp_path / "media")
    assert client.get(f"/media/{consent.signed_form.name}").status_code == 404
    # The download view reads it from the private directory.
    download = http.get(_download_url(consent))
    assert b"".join(download.streaming_content) == PDF


# --- signed agreements (Wagtail documents) -----------------------------------------------------


def _document(network_collection: Collection, title: str = "Alpha agreement") -> object:
    document = Document(title=title, collection=network_collection)
    document.file.save("Signed agreement Zed.pdf", ContentFile(PDF), save=False)
    document.save()
    return document


def _collection(cast: Loop) -> Collection:
    return Collection.objects.get(name=cast.tenant.network.name)


@pytest.fixture
def agreement_document(loop):  # type: ignore[no-untyped-def]
    """The food agency's agreement with its signed document attached by the network admin."""
    agreement = loop.agreements["food"]
    document = _document(_collection(loop))
    return consent_services.agreement_document_attach(
        agreement=agreement, document=document, by=loop.admin
    )


@pytest.mark.django_db
def test_a_document_is_stored_privately_under_a_random_name(loop):
    document = _document(_collection(loop))
    assert document.file.name.startswith("documents/")
    assert "Zed" not in document.file.name
    assert private_storage().exists(document.file.name)
    assert not default_storage.exists(document.file.name)


@pytest.mark.django_db
def test_attaching_moves_the_document_into_the_networks_private_collection(
    loop,
    agreement_document,
):
    document = agreement_document.document
    assert document.collection.name == consent_services.AGREEMENTS_COLLECTION_NAME
    assert document.collection.get_parent() == _collection(loop)


def _document_url(document) -> str:  # type: ignore[no-untyped-def]
    return reverse("wagtaildocs_serve", args=[document.pk, document.filename])


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["network_admin", "agency_admin", "agency_staff"])
def test_the_network_admins_and_the_agency_download_the_agreement(
    client,
    loop,
    agreement_document,
    who,
):
    agreement = agreement_document
    client.force_login(loop.tenant.users[who])  # the agency's people work at the food agency
    response = client.get(_document_url(agreement.document))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert ModelLogEntry.objects.filter(
        object_id=str(agreement.pk), action="consent.agreement.document_download"
    ).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "who", ["clinic_staff", "other_agency_staff", "other_network_admin", "other_network_agency"]
)
def test_anyone_else_gets_no_agreement(client, loop, other_loop, agreement_document, who):
    users = {
        "clinic_staff": loop.clinic_staff,  # the agreement is the agency's, network-wide
        "other_agency_staff": loop.users["housing_staff"],
        "other_network_admin": other_loop.admin,
        "other_network_agency": other_loop.agency_staff,
    }
    client.force_login(users[who])
    response = client.get(_document_url(agreement_document.document))
    assert response.status_code == 404
    assert PDF not in response.content


@pytest.mark.django_db
def test_anonymous_gets_the_sign_in_page_not_the_agreement(client, agreement_document):
    response = client.get(_document_url(agreement_document.document))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.django_db
def test_a_network_admin_cannot_attach_another_networks_document(client, loop, other_loop):
    from django.core.exceptions import ValidationError

    theirs = _document(_collection(other_loop), title="Bravo agreement")
    agreement = loop.agreements["food"]
    with pytest.raises(ValidationError):
        consent_services.agreement_document_attach(
            agreement=agreement, document=theirs, by=loop.admin
        )
    # Nor through the Wagtail admin's agreement form.
    client.force_login(loop.admin)
    data = _admin_form(agreement.agency, document=theirs.pk)
    response = client.post(
        reverse("wagtailsnippets_consent_datasharingagreement:add"), data, follow=False
    )
    assert response.status_code == 200  # the form again, with the error
    body = html.unescape(response.content.decode())
    assert "Select a valid choice" in body or "belongs to another network" in body
    agreement.refresh_from_db()
    assert agreement.document_id is None
    theirs.refresh_from_db()
    assert theirs.collection == _collection(other_loop)


@pytest.mark.django_db
def test_a_network_admin_attaches_their_own_document_in_the_admin(client, loop):
    mine = _document(_collection(loop), title="Alpha signed")
    agreement = loop.agreements["food"]
    client.force_login(loop.admin)
    response = client.post(
        reverse("wagtailsnippets_consent_datasharingagreement:add"),
        _admin_form(agreement.agency, document=mine.pk),
    )
    assert response.status_code == 302, html.unescape(response.content.decode())[:2000]
    mine.refresh_from_db()
    assert mine.collection.name == consent_services.AGREEMENTS_COLLECTION_NAME


def _admin_form(agency, *, document) -> dict:  # type: ignore[no-untyped-def]
    return {
        "agency": agency.pk,
        "clinic": "",
        "effective_from": "2026-01-01",
        "effective_to": "",
        "fields": ["name"],
        "response_hours": "16",
        "outcome_days": "30",
        "document": document,
        "action": "save",
        "signatories-TOTAL_FORMS": "0",
        "signatories-INITIAL_FORMS": "0",
        "signatories-MIN_NUM_FORMS": "0",
        "signatories-MAX_NUM_FORMS": "1000",
    }


# --- moving the files uploaded before ------------------------------------------------------------


@pytest.mark.django_db
def test_the_move_command_moves_every_file_and_loses_nothing(
    loop,
    django_capture_on_commit_callbacks,
):
    # Rows as they were before private storage: files in the public media storage.
    old_form = default_storage.save(
        "consent/forms/2026/05/Zed Marker consent.pdf", ContentFile(PDF)
    )
    consent = consent_services.consent_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["food-insecurity"],
        method="verbal",
        attestation="read",
        whole_network=True,
    )
    Consent.objects.filter(pk=consent.pk).update(signed_form=old_form, method="signed_form")
    old_document = default_storage.save("documents/Signed agreement Zed.pdf", ContentFile(PNG))
    document = Document.objects.create(title="Old agreement", collection=_collection(loop))
    Document.objects.filter(pk=document.pk).update(file=old_document)
    lost = Consent.objects.create(
        network=consent.network,
        client=consent.client,
        method="signed_form",
        granted_at=consent.granted_at,
        expires_at=consent.expires_at,
        recorded_by=consent.recorded_by,
        recorded_for=consent.recorded_for,
        signed_form="consent/forms/2025/01/gone.pdf",
    )

    call_command("private_files_move", "--dry-run")
    assert default_storage.exists(old_form)  # a dry run changes nothing

    with django_capture_on_commit_callbacks(execute=True):
        call_command("private_files_move")
    consent.refresh_from_db()
    document.refresh_from_db()
    assert consent.signed_form.name.startswith("consent/forms/")
    assert "Zed" not in consent.signed_form.name
    assert consent.signed_form_name == "Zed Marker consent.pdf"
    assert private_storage().open(consent.signed_form.name).read() == PDF
    assert document.file.name.startswith("documents/")
    assert "Zed" not in document.file.name
    assert private_storage().open(document.file.name).read() == PNG
    assert not default_storage.exists(old_form)
    assert not default_storage.exists(old_document)
    lost.refresh_from_db()
    assert lost.signed_form.name == "consent/forms/2025/01/gone.pdf"  # reported, left as is

    # A second run finds everything in place.
    moved = consent_services.private_files_move()
    assert moved.moved == []
    assert moved.already_private == 2
    assert moved.missing == ["consent/forms/2025/01/gone.pdf"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "content", "accepted"),
    [
        ("agreement.pdf", HTML_AS_PDF, False),
        ("notes.txt", HTML_AS_PDF, False),
        ("notes.txt", b"plain words", True),
        ("agreement.pdf", PDF, True),
    ],
)
def test_a_document_upload_is_checked_by_content(client, loop, name, content, accepted):
    client.force_login(loop.admin)
    response = client.post(
        reverse("wagtaildocs:add"),
        {
            "title": "Signed",
            "file": SimpleUploadedFile(name, content),
            "collection": _collection(loop).pk,
        },
    )
    stored = Document.objects.filter(title="Signed")
    if accepted:
        assert response.status_code == 302
        assert private_storage().exists(stored.get().file.name)
    else:
        assert response.status_code == 200
        assert "content is not a" in html.unescape(response.content.decode())
        assert not stored.exists()
