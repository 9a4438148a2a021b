"""Recording consent (verbal with the exact wording, signed form, typed signature) and
revoking it."""

from __future__ import annotations

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from consent.models import Consent
from consent.wording import verbal_consent_script
from referrals.forms import consent_script
from referrals.services.clients import client_create


def _url(loop) -> str:  # type: ignore[no-untyped-def]
    return reverse("referrals:consent_new", args=[loop.client.pk])


def _revoke_url(loop, consent=None) -> str:  # type: ignore[no-untyped-def]
    return reverse("referrals:consent_revoke", args=[loop.client.pk, (consent or loop.consent).pk])


def _verbal(loop, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "scope": "network",
        "categories": ["utility-insecurity", "food-insecurity"],
        "method": "verbal",
        "policy": "hipaa",
        "attested": "on",
        "script_shown": consent_script(
            clinic=loop.clinic,
            recipients=[],
            categories=["food-insecurity", "utility-insecurity"],
            language="es",  # the client's language
        ),
        "action": "save",
    }
    data.update(overrides)
    return data


def _new_consents(loop):  # type: ignore[no-untyped-def]
    return Consent.objects.filter(client=loop.client).exclude(pk=loop.consent.pk)


@pytest.mark.django_db
def test_the_form_shows_the_exact_wording_and_labels_every_choice(staff, loop):
    response = staff.get(_url(loop), {"categories": ["food-insecurity", "bogus"]})
    body = response.content.decode()
    assert response.status_code == 200
    expected = verbal_consent_script(
        clinic=loop.clinic.name, recipients=[], needs=["food-insecurity"], language="es"
    )
    assert html.escape(expected) in body
    assert 'value="food-insecurity" id="id_categories_0" checked' in body
    assert body.count("<legend>") >= 5  # scope, agencies, needs, sensitive, method, policy
    assert 'enctype="multipart/form-data"' in body


@pytest.mark.django_db
def test_verbal_consent_stores_the_wording_that_was_read(staff, loop):
    response = staff.post(_url(loop), _verbal(loop))
    assert response.status_code == 302
    assert response["Location"] == reverse("referrals:client_detail", args=[loop.client.pk])
    consent = _new_consents(loop).get()
    assert consent.method == "verbal"
    assert consent.whole_network
    assert consent.categories == ["food-insecurity", "utility-insecurity"]
    assert consent.attestation == _verbal(loop)["script_shown"]
    assert loop.clinic.name in consent.attestation
    assert (consent.recorded_by, consent.recorded_for) == (loop.clinic_staff, loop.clinic)


@pytest.mark.django_db
def test_preview_updates_the_wording_for_chosen_agencies_and_writes_nothing(staff, loop):
    data = _verbal(loop, scope="chosen", recipients=[loop.housing_agency.pk], action="preview")
    response = staff.post(_url(loop), data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Bay Housing" in body
    assert "The wording now matches your choices." in body
    assert "nothing was saved" not in body  # a preview is not a refusal
    assert not _new_consents(loop).exists()


@pytest.mark.django_db
def test_chosen_agencies_with_the_wording_naming_them(staff, loop):
    script = consent_script(
        clinic=loop.clinic,
        recipients=[loop.housing_agency],
        categories=["homelessness"],
        language="es",
    )
    data = _verbal(
        loop,
        scope="chosen",
        recipients=[loop.housing_agency.pk],
        categories=["homelessness"],
        script_shown=script,
    )
    assert staff.post(_url(loop), data).status_code == 302
    consent = _new_consents(loop).get()
    assert not consent.whole_network
    assert list(consent.recipients.all()) == [loop.housing_agency]
    assert "Bay Housing" in consent.attestation


@pytest.mark.django_db
def test_typed_signature(staff, loop):
    data = _verbal(loop, method="electronic", signature="Maria Lopez", attested="")
    assert staff.post(_url(loop), data).status_code == 302
    consent = _new_consents(loop).get()
    assert (consent.method, consent.signature, consent.attestation) == (
        "electronic",
        "Maria Lopez",
        "",
    )


@pytest.mark.django_db
def test_signed_form_upload(staff, loop, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("consent.pdf", b"%PDF-1.4 signed", content_type="application/pdf")
    data = _verbal(loop, method="signed_form", attested="", signed_form=upload)
    assert staff.post(_url(loop), data).status_code == 302
    consent = _new_consents(loop).get()
    assert consent.method == "signed_form"
    assert consent.signed_form.read() == b"%PDF-1.4 signed"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"categories": []}, "Choose at least one need the consent covers."),
        ({"attested": ""}, "Confirm that you read the wording to the client."),
        (
            {"categories": ["food-insecurity"]},  # changed after the wording was shown
            "The choices changed after the wording was shown.",
        ),
        ({"scope": "chosen"}, "Choose the agencies, or allow the whole network."),
        ({"method": "electronic", "signature": "  "}, "The client must type their name to sign."),
        ({"method": "signed_form"}, "Upload the signed form."),
        (
            {
                "method": "signed_form",
                "signed_form": SimpleUploadedFile("x.exe", b"MZ", "application/octet-stream"),
            },
            "File extension “exe” is not allowed.",
        ),
        ({"expires_on": "2001-01-01"}, "The consent must end after it starts."),
        ({"method": "smoke-signal"}, "Select a valid choice."),
        (
            {"categories": ["intimate-partner-violence"]},
            "Name the agencies that may receive sensitive needs (Domestic violence).",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_written(staff, loop, overrides, error):
    response = staff.post(_url(loop), _verbal(loop, **overrides))
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert error in body
    assert "nothing was saved" in body
    assert not _new_consents(loop).exists()


@pytest.mark.django_db
def test_sensitive_agencies_must_also_be_recipients(staff, loop):
    data = _verbal(
        loop,
        scope="chosen",
        recipients=[loop.housing_agency.pk],
        sensitive_recipients=[loop.food_agency.pk],
        categories=["intimate-partner-violence"],
    )
    response = staff.post(_url(loop), data)
    assert response.status_code == 400
    assert "Also choose Harbor Food Bank as a recipient above." in response.content.decode()
    assert not _new_consents(loop).exists()


# --- revoke ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_revoke_with_a_reason(staff, loop):
    response = staff.post(_revoke_url(loop), {"reason": "Asked us to stop sharing"})
    assert response.status_code == 302
    loop.consent.refresh_from_db()
    assert loop.consent.revoked_at is not None
    assert (loop.consent.revoked_by, loop.consent.revoked_reason) == (
        loop.clinic_staff,
        "Asked us to stop sharing",
    )
    assert "Revoked" in staff.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_revoke_needs_a_reason(staff, loop):
    response = staff.post(_revoke_url(loop), {"reason": "   "})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Give the reason for revoking." in body
    assert "<details open>" in body  # the form with its error is open
    loop.consent.refresh_from_db()
    assert loop.consent.revoked_at is None


@pytest.mark.django_db
def test_revoking_twice_is_refused_clearly(staff, loop):
    assert staff.post(_revoke_url(loop), {"reason": "First"}).status_code == 302
    again = staff.post(_revoke_url(loop), {"reason": "Second"})
    assert again.status_code == 400
    assert "already revoked" in again.content.decode()
    loop.consent.refresh_from_db()
    assert loop.consent.revoked_reason == "First"


@pytest.mark.django_db
def test_revoke_only_by_post(staff, loop):
    assert staff.get(_revoke_url(loop)).status_code == 405


# --- who may not -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_wrong_roles_cannot_record_or_revoke(intruder, loop):
    page = intruder.get(_url(loop))
    assert page.status_code in (403, 404)
    assert "Maria" not in page.content.decode()
    assert intruder.post(_url(loop), _verbal(loop)).status_code in (403, 404)
    assert intruder.post(_revoke_url(loop), {"reason": "x"}).status_code in (403, 404)
    assert not _new_consents(loop).exists()
    loop.consent.refresh_from_db()
    assert loop.consent.revoked_at is None


@pytest.mark.django_db
def test_a_consent_of_another_client_cannot_be_revoked_here(staff, loop):

    other = client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Ana",
        last_name="Reyes",
        date_of_birth=loop.client.date_of_birth,
    )
    url = reverse("referrals:consent_revoke", args=[other.pk, loop.consent.pk])
    assert staff.post(url, {"reason": "x"}).status_code == 404
    loop.consent.refresh_from_db()
    assert loop.consent.revoked_at is None


@pytest.mark.django_db
def test_sensitive_needs_go_only_to_the_agencies_named_for_them(staff, loop):
    needs = ["food-insecurity", "intimate-partner-violence"]
    data = _verbal(
        loop,
        categories=needs,
        sensitive_recipients=[loop.housing_agency.pk],
        script_shown=consent_script(
            clinic=loop.clinic, recipients=[], categories=needs, language="es"
        ),
    )
    assert staff.post(_url(loop), data).status_code == 302
    consent = _new_consents(loop).get()
    assert consent.whole_network
    assert list(consent.sensitive_recipients.all()) == [loop.housing_agency]


@pytest.mark.django_db
def test_htmx_refreshes_the_wording_on_every_change(staff, loop):
    body = staff.get(_url(loop)).content.decode()
    assert 'hx-trigger="change from:#consent-choices"' in body
    assert 'hx-select="#consent-script"' in body
    assert "htmx" in body  # the script tag; the form works without it
