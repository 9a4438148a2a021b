"""Clinic staff choose several services in the search and send to all of them in one flow,
recording the client's consent on the same page when none is on file: all or nothing."""

from __future__ import annotations

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consent import services as consent_services
from consent.models import Consent
from consent.wording import verbal_consent_script
from network.models import Role
from referrals.models import Notification, Referral
from referrals.services import sending
from tests.referrals.factories import more_services

NEW = reverse("referrals:referral_new")
SEARCH = reverse("referrals:search")
TRACKER = reverse("referrals:referral_tracker")
NEEDS = ["food-insecurity", "housing-instability"]


def _digest(response) -> str:  # type: ignore[no-untyped-def]
    found = re.search(r'name="script_digest" value="([0-9a-f]+)"', response.content.decode())
    assert found, "the page carries the digest of the wording it shows"
    return found[1]


def _page(http, loop, person, services=None, **params):  # type: ignore[no-untyped-def]
    services = services or [loop.food, loop.housing]
    response = http.get(NEW, {"service": [s.pk for s in services], "client": person.pk, **params})
    assert response.status_code == 200
    return response


def _post(http, loop, person, services=None, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "service": [s.pk for s in (services or [loop.food, loop.housing])],
        "client": person.pk,
        "categories": NEEDS,
        "urgency": "routine",
        "note": "Prefers mornings.",
        "idempotency_key": "flow-key-1",
    }
    data.update(overrides)
    return http.post(NEW, data)


def _verbal(http, loop, person, **overrides):  # type: ignore[no-untyped-def]
    """Post the page as staff do after reading the wording it showed."""
    shown = _page(http, loop, person, categories=NEEDS)
    return _post(
        http,
        loop,
        person,
        consent="verbal",
        verbal_confirmed="1",
        script_digest=_digest(shown),
        **overrides,
    )


# --- the search offers the selection --------------------------------------------------------


@pytest.mark.django_db
def test_search_results_let_staff_select_services_and_carry_the_client(client, loop, fresh):
    consent_services.agreement_terminate(agreement=loop.agreements["housing"], by=loop.admin)
    client.force_login(loop.clinic_staff)
    body = client.get(SEARCH, {"near": "95501", "radius": "25", "client": fresh.pk}).content
    page = body.decode()
    assert f'<form id="refer-selection" method="get" action="{NEW}">' in page
    assert f'<input type="hidden" name="client" value="{fresh.pk}">' in page
    assert (
        f'<input type="checkbox" name="service" value="{loop.food.pk}" form="refer-selection">'
        in page
    )
    # No agreement: no selection box and no refer link, "contact directly" instead.
    assert f'value="{loop.housing.pk}" form="refer-selection"' not in page
    assert "Select for referral" in page
    assert f"?service={loop.food.pk}" in page  # the single "Refer" link still works
    assert f"client={fresh.pk}" in html.unescape(page.split(f"?service={loop.food.pk}")[1][:80])
    assert "Referring Ana Reyes" in page


@pytest.mark.django_db
def test_search_ignores_a_client_of_another_clinic(client, loop, other_loop):
    client.force_login(loop.clinic_staff)
    page = client.get(SEARCH, {"near": "95501", "client": other_loop.client.pk}).content.decode()
    assert f'name="client" value="{other_loop.client.pk}"' not in page
    assert "Referring" not in page


# --- the send page --------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_lists_each_service_with_its_agency_and_agreement(client, loop, fresh):
    consent_services.agreement_terminate(agreement=loop.agreements["housing"], by=loop.admin)
    client.force_login(loop.clinic_staff)
    page = _page(client, loop, fresh).content.decode()
    assert "Harbor Food Pantry" in page
    assert "Harbor Food Bank" in page
    assert "Rent Help" in page
    assert "Bay Housing" in page
    assert "Agreement in force" in page
    assert "Contact directly" in page
    assert f'name="service" value="{loop.food.pk}" checked' in page
    assert f'name="service" value="{loop.housing.pk}"' not in page  # cannot be sent
    assert f'<option value="{fresh.pk}" selected>' in page
    assert "Send referral" in page  # one of the two can be sent


@pytest.mark.django_db
def test_without_consent_on_file_the_page_shows_the_wording_to_read(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    page = html.unescape(_page(client, loop, fresh, categories=NEEDS).content.decode())
    script = verbal_consent_script(
        clinic=loop.clinic.name,
        recipients=["Harbor Food Bank", "Bay Housing"],
        needs=["food-insecurity", "housing-instability"],
    )
    assert script in page
    assert "No active consent on file covers every agency and need chosen" in page
    assert 'value="on_file"' not in page
    assert 'enctype="multipart/form-data"' in page


@pytest.mark.django_db
def test_without_a_service_the_page_sends_staff_to_the_search(client, loop):
    client.force_login(loop.clinic_staff)
    response = client.get(NEW, {"client": loop.client.pk})
    assert response.status_code == 302
    assert response["Location"] == f"{SEARCH}?client={loop.client.pk}"
    assert client.get(NEW, {"service": "abc"}).status_code == 404


@pytest.mark.django_db
def test_verbal_consent_recorded_in_the_flow_then_sent_to_every_service(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    response = _verbal(client, loop, fresh)
    assert response.status_code == 302
    assert response["Location"] == TRACKER
    referrals = Referral.objects.filter(client=fresh).order_by("agency__name")
    assert [r.agency for r in referrals] == [loop.housing_agency, loop.food_agency]
    consent = Consent.objects.get(client=fresh)
    assert consent.method == "verbal"
    assert consent.attestation == verbal_consent_script(
        clinic=loop.clinic.name,
        recipients=["Harbor Food Bank", "Bay Housing"],
        needs=["food-insecurity", "housing-instability"],
    )
    assert not consent.whole_network
    assert set(consent.recipients.all()) == {loop.food_agency, loop.housing_agency}
    assert consent.categories == NEEDS
    assert {r.consent_id for r in referrals} == {consent.pk}
    assert {r.idempotency_key for r in referrals} == {
        f"flow-key-1/{loop.food.pk}",
        f"flow-key-1/{loop.housing.pk}",
    }
    tracker = client.get(TRACKER).content.decode()
    assert "Referrals sent to" in tracker
    assert "Harbor Food Bank" in tracker
    assert "Bay Housing" in tracker


@pytest.mark.django_db
def test_typed_signature_recorded_in_the_flow(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    response = _post(client, loop, fresh, consent="electronic", signature="Ana Reyes")
    assert response.status_code == 302
    consent = Consent.objects.get(client=fresh)
    assert (consent.method, consent.signature, consent.attestation) == (
        "electronic",
        "Ana Reyes",
        "",
    )
    assert Referral.objects.filter(client=fresh, consent=consent).count() == 2


@pytest.mark.django_db
def test_signed_form_uploaded_in_the_flow(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    upload = SimpleUploadedFile("signed.pdf", b"%PDF-1.4 signed", content_type="application/pdf")
    response = _post(
        client,
        loop,
        fresh,
        services=[loop.food],
        consent="signed_form",
        categories=["food-insecurity"],
        signed_form=upload,
    )
    assert response.status_code == 302
    referral = Referral.objects.get(client=fresh)
    # Only one service: straight to its page.
    assert response["Location"] == reverse("referrals:referral_detail", args=[referral.pk])
    consent = Consent.objects.get(client=fresh)
    assert consent.method == "signed_form"
    assert consent.signed_form.name.endswith(".pdf")
    assert referral.consent == consent


@pytest.mark.django_db
def test_whole_network_scope(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    shown = _page(client, loop, fresh, categories=NEEDS, whole_network="1")
    response = _post(
        client,
        loop,
        fresh,
        consent="verbal",
        verbal_confirmed="1",
        whole_network="1",
        script_digest=_digest(shown),
    )
    assert response.status_code == 302
    consent = Consent.objects.get(client=fresh)
    assert consent.whole_network
    assert not consent.recipients.exists()
    assert "community agencies in our referral network" in consent.attestation


@pytest.mark.django_db
def test_consent_on_file_is_shown_and_used(client, loop):
    client.force_login(loop.clinic_staff)
    page = html.unescape(_page(client, loop, loop.client, categories=NEEDS).content.decode())
    assert "Consent on file: Verbal, attested by the staff member" in page
    assert "Scope: any agency of the network" in page
    assert 'name="consent" value="on_file" checked' in page
    before = Consent.objects.count()
    response = _post(client, loop, loop.client, consent="on_file")
    assert response.status_code == 302
    assert Consent.objects.count() == before
    assert set(Referral.objects.values_list("consent_id", flat=True)) == {loop.consent.pk}
    assert Referral.objects.count() == 2


@pytest.mark.django_db
def test_double_submit_sends_once_and_records_one_consent(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    assert _verbal(client, loop, fresh).status_code == 302
    notified = Notification.objects.count()
    again = _verbal(client, loop, fresh)  # the same form, sent again
    assert again.status_code == 302
    assert Referral.objects.filter(client=fresh).count() == 2
    assert Consent.objects.filter(client=fresh).count() == 1
    assert Notification.objects.count() == notified


# --- refusals: all or none -------------------------------------------------------------------


def _nothing_written(fresh) -> None:  # type: ignore[no-untyped-def]
    assert not Referral.objects.exists()
    assert not Consent.objects.filter(client=fresh).exists()
    assert not Notification.objects.filter(kind="referral_received").exists()


@pytest.mark.django_db
def test_one_service_without_agreement_refuses_all_and_records_no_consent(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    shown = _page(client, loop, fresh, categories=NEEDS)
    consent_services.agreement_terminate(agreement=loop.agreements["housing"], by=loop.admin)
    response = _post(
        client,
        loop,
        fresh,
        consent="verbal",
        verbal_confirmed="1",
        script_digest=_digest(shown),
    )
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert "Nothing was sent" in body
    assert "Bay Housing has no data-sharing agreement in force for Rent Help" in body
    _nothing_written(fresh)


@pytest.mark.django_db
def test_a_refusal_inside_the_send_rolls_back_the_consent_and_the_first_referral(
    client, loop, fresh, monkeypatch
):
    """The agreement ends between the page's check and the send of the second service: the
    consent recorded and the first referral written in the same transaction go too."""
    real = sending.agreement_for_listing
    housing_listing = loop.housing.get_parent().path

    def ended_for_housing(*, listing_path, clinic, at=None):  # type: ignore[no-untyped-def]
        if listing_path == housing_listing:
            return None
        return real(listing_path=listing_path, clinic=clinic, at=at)

    client.force_login(loop.clinic_staff)
    shown = _page(client, loop, fresh, categories=NEEDS)
    monkeypatch.setattr(sending, "agreement_for_listing", ended_for_housing)
    response = _post(
        client,
        loop,
        fresh,
        consent="verbal",
        verbal_confirmed="1",
        script_digest=_digest(shown),
    )
    assert response.status_code == 400
    assert "no data-sharing agreement in force" in response.content.decode()
    _nothing_written(fresh)


@pytest.mark.django_db
def test_no_consent_is_named_per_agency(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    response = _post(client, loop, fresh)  # no consent on file, none recorded
    assert response.status_code == 400
    body = html.unescape(response.content.decode())
    assert "No active consent lets Ana Reyes's information go to Harbor Food Bank" in body
    assert "No active consent lets Ana Reyes's information go to Bay Housing" in body
    _nothing_written(fresh)


@pytest.mark.django_db
def test_consent_on_file_that_misses_a_need_is_refused(client, loop):
    client.force_login(loop.clinic_staff)
    response = _post(client, loop, loop.client, categories=["utility-insecurity"])
    assert response.status_code == 400
    assert "No active consent" in response.content.decode()
    assert not Referral.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"consent": "verbal", "script_digest": "stale"}, "changed after the consent wording"),
        ({"consent": "verbal", "verbal_confirmed": ""}, "Confirm that you read the wording"),
        ({"consent": "electronic", "signature": "  "}, "The client must type their name"),
        ({"consent": "signed_form"}, "Upload the signed form"),
        ({"consent": "smoke signals"}, "Choose how the consent was given"),
        ({"categories": []}, "Choose the needs this referral is for"),
        ({"categories": ["moon-rock"]}, "Unknown need: moon-rock"),
        ({"urgency": "whenever"}, "Urgency is routine or urgent"),
        ({"note": "x" * 5001}, "Keep the note under 5,000 characters"),
        ({"client": ""}, "Choose the client"),
        ({"idempotency_key": ""}, "reload the page and retry"),
    ],
)
def test_invalid_input_is_named_and_writes_nothing(client, loop, fresh, overrides, message):
    client.force_login(loop.clinic_staff)
    data = {"consent": "verbal", "verbal_confirmed": "1", **overrides}
    if data.get("script_digest") is None:
        data["script_digest"] = _digest(_page(client, loop, fresh, categories=NEEDS))
    response = _post(client, loop, fresh, **data)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    _nothing_written(fresh)


@pytest.mark.django_db
def test_no_service_left_is_refused(client, loop, fresh):
    client.force_login(loop.clinic_staff)
    response = _post(client, loop, fresh, service=[], consent="electronic", signature="Ana")
    assert response.status_code == 400
    assert "Choose at least one service." in response.content.decode()
    _nothing_written(fresh)


@pytest.mark.django_db
def test_checking_consent_re_renders_without_sending(client, loop):
    client.force_login(loop.clinic_staff)
    response = _post(client, loop, loop.client, action="check")
    assert response.status_code == 200
    assert "Consent on file" in response.content.decode()
    assert not Referral.objects.exists()


# --- who may send ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.AGENCY_STAFF, Role.AGENCY_ADMIN, Role.NETWORK_ADMIN])
def test_only_clinic_staff_open_or_post_the_page(client, loop, fresh, role):
    client.force_login(loop.tenant.users[role])
    assert client.get(NEW, {"service": [loop.food.pk, loop.housing.pk]}).status_code == 403
    assert _post(client, loop, fresh, consent="electronic", signature="Ana").status_code == 403
    _nothing_written(fresh)


@pytest.mark.django_db
def test_another_networks_clinic_finds_neither_services_nor_client(client, loop, other_loop):
    client.force_login(other_loop.clinic_staff)
    # Our services are not in its network's directory.
    assert client.get(NEW, {"service": [loop.food.pk]}).status_code == 404
    mixed = {"service": [other_loop.food.pk, loop.housing.pk]}
    assert client.get(NEW, mixed).status_code == 404
    # Its own service, our client: not one of its clients.
    response = _post(
        client,
        other_loop,
        loop.client,
        services=[other_loop.food],
        categories=["food-insecurity"],
        consent="electronic",
        signature="Maria",
    )
    assert response.status_code == 400
    assert "Choose the client" in response.content.decode()
    assert not Referral.objects.exists()
    assert Consent.objects.filter(client=loop.client).count() == 1


@pytest.mark.django_db
def test_signed_out_people_are_sent_to_sign_in(client, loop):
    response = client.get(NEW, {"service": loop.food.pk})
    assert response.status_code == 302
    assert "login" in response["Location"]


# --- cost --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_queries_do_not_grow_with_the_services_chosen(client, loop):
    extra = more_services(loop, 3)
    client.force_login(loop.clinic_staff)

    def queries(services) -> int:  # type: ignore[no-untyped-def]
        with CaptureQueriesContext(connection) as captured:
            response = _page(client, loop, loop.client, services=services)
        assert response.content.decode().count('name="service"') == len(services)
        return len(captured.captured_queries)

    _page(client, loop, loop.client)  # warm the session and the site caches
    one = queries([loop.food])
    five = queries([loop.food, loop.housing, *extra])
    assert five == one
