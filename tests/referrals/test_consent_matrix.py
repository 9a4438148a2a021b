"""Consent gates every disclosure: {no consent, consent for another organization, consent without
the category, sensitive category not named, expired, revoked} by {send, agency view, agency list}.

Every cell refuses (nothing written) or discloses nothing (no client value in the response, the
referral shown as withdrawn), and no cell writes an access-log row. The positive controls show the
same surfaces do carry the client's data, and log it, when the consent is good.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from consent import services as consent_services
from consent.models import AccessLog, ClientField, Consent, DataSharingAgreement
from consent.selectors import consent_covers, disclosures_for_client
from referrals.disclosure import DISCLOSURE_LOG_WINDOW
from referrals.errors import ConsentRequired
from referrals.models import Notification, Referral, ReferralEvent, ServiceRequestRecord
from referrals.selectors.referrals import referral_inbox
from tests.conftest import act_as
from tests.consent.factories import consent_verbal
from tests.referrals.factories import AGREED_FIELDS, Loop
from tests.referrals.fhir import resources as fhir
from tests.referrals.fhir.support import ehr_make

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")

FOOD = "food-insecurity"
VIOLENCE = "intimate-partner-violence"  # sensitive everywhere
NOTE = "Ask for the blue folder QX-58 at intake."
# Maria Lopez's data (tests/referrals/factories.py) as any response could spell it.
CLIENT_VALUES = {
    ClientField.NAME: ["Maria", "Lopez"],
    ClientField.PHONE: ["707-555-0100", "7075550100"],
    ClientField.EMAIL: ["maria@example.org"],
    ClientField.DATE_OF_BIRTH: ["1980-05-17", "May 17, 1980", "05/17/1980"],
    ClientField.NOTE: ["QX-58"],
}
EVERY_VALUE = [value for values in CLIENT_VALUES.values() for value in values]

CASES = [
    "no-consent",
    "another-organization",
    "category-not-covered",
    "sensitive-not-named",
    "network-sensitive-not-named",
    "expired",
    "revoked",
]


def leaked(body: str) -> list[str]:
    return [value for value in EVERY_VALUE if value in body]


def record(loop: Loop, **kwargs) -> Consent:  # type: ignore[no-untyped-def]
    kwargs.setdefault("whole_network", not kwargs.get("recipients"))
    return consent_verbal(
        client=loop.client, by=loop.clinic_staff, organization=loop.clinic, **kwargs
    )


def writes(loop: Loop) -> dict[str, int]:
    return {
        "referrals": Referral.objects.count(),
        "events": ReferralEvent.objects.count(),
        "notifications": Notification.objects.count(),
        "access_log": AccessLog.objects.count(),
    }


# --- send -----------------------------------------------------------------------------------


def consent_lacking_before_send(loop: Loop, case: str) -> list[str]:
    """Put the client's consents into ``case``; the categories the clinic then tries to send."""
    if case == "no-consent":
        Consent.objects.filter(client=loop.client).delete()
        return [FOOD]
    if case == "network-sensitive-not-named":
        # The network marks food insecurity sensitive; the whole-network consent names nobody.
        network = loop.client.network
        network.sensitive_categories = [FOOD]
        network.save(update_fields=["sensitive_categories"])
        return [FOOD]
    consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="Asked")
    now = timezone.now()
    if case == "another-organization":
        record(loop, categories=[FOOD, "housing-instability"], recipients=[loop.housing_agency])
    elif case == "category-not-covered":
        record(loop, categories=["housing-instability", "utility-insecurity"])
    elif case == "sensitive-not-named":
        record(loop, categories=[FOOD, VIOLENCE], sensitive_recipients=[loop.housing_agency])
        return [FOOD, VIOLENCE]
    elif case == "expired":
        record(
            loop,
            categories=[FOOD],
            granted_at=now - timedelta(days=400),
            expires_at=now - timedelta(minutes=1),
        )
    else:
        assert case == "revoked"
    return [FOOD]


@pytest.mark.parametrize("case", CASES)
def test_send_is_refused_and_writes_nothing(loop, case):
    categories = consent_lacking_before_send(loop, case)
    before = writes(loop)
    with pytest.raises(ConsentRequired) as caught:
        loop.send(categories=categories, note=NOTE)
    assert caught.value.code == "consent_required"
    assert "consent" in str(caught.value)
    assert writes(loop) == before
    assert not Referral.objects.filter(client=loop.client).exists()
    assert AccessLog.objects.count() == 0


@pytest.mark.parametrize("case", CASES)
def test_send_over_the_api_is_refused_and_writes_nothing(client, loop, case):
    categories = consent_lacking_before_send(loop, case)
    before = writes(loop)
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.post(
        reverse("referrals:api:referrals"),
        {
            "client": loop.client.pk,
            "targets": [{"service": loop.food.pk}],
            "categories": categories,
            "note": NOTE,
        },
        content_type="application/json",
        headers={"Idempotency-Key": f"matrix-{case}"},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "consent_required"
    assert writes(loop) == before
    assert AccessLog.objects.count() == 0


@pytest.mark.parametrize("case", CASES)
def test_send_over_fhir_is_refused_and_writes_nothing(loop, case):
    """A clinic's EHR posts the ServiceRequest and its Task in one transaction: refused with an
    OperationOutcome, and neither is kept."""
    categories = consent_lacking_before_send(loop, case)
    ehr = ehr_make(loop.clinic).sign_in()
    before = {**writes(loop), "requests": ServiceRequestRecord.objects.count()}
    subject = f"Patient/{loop.client.pk}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
            for url, resource in (
                ("urn:uuid:sr", fhir.service_request(subject, loop.food.pk, categories, note=NOTE)),
                (
                    "urn:uuid:task",
                    fhir.task(
                        "urn:uuid:sr",
                        subject,
                        loop.clinic.pk,
                        loop.food_agency.pk,
                        "2026-01-01T00:00:00Z",
                    ),
                ),
            )
        ],
    }
    response = ehr.post("", bundle)
    assert response.status_code == 422
    issue = fhir.valid(response.json())["issue"][0]
    assert issue["details"]["coding"][0]["code"] == "consent_required"
    assert {**writes(loop), "requests": ServiceRequestRecord.objects.count()} == before
    assert AccessLog.objects.count() == 0


def test_sending_to_several_agencies_is_all_or_nothing(client, loop):
    """One consent covers the food agency but not the housing agency: neither referral goes."""
    consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="Asked")
    record(loop, categories=[FOOD], recipients=[loop.food_agency])
    before = writes(loop)
    act_as(client, loop.clinic_staff, loop.clinic)
    response = client.post(
        reverse("referrals:api:referrals"),
        {
            "client": loop.client.pk,
            "targets": [{"service": loop.food.pk}, {"service": loop.housing.pk}],
            "categories": [FOOD],
            "note": NOTE,
        },
        content_type="application/json",
        headers={"Idempotency-Key": "both"},
    )
    assert response.status_code == 403
    assert response.json()["error"] == "consent_required"
    assert writes(loop) == before


def _api_send_with_consent(client, loop: Loop, consent: object, key: str = "given"):  # type: ignore[no-untyped-def]
    act_as(client, loop.clinic_staff, loop.clinic)
    return client.post(
        reverse("referrals:api:referrals"),
        {
            "client": loop.client.pk,
            "targets": [{"service": loop.food.pk}],
            "categories": [FOOD],
            "note": NOTE,
            "consent": consent,
        },
        content_type="application/json",
        headers={"Idempotency-Key": key},
    )


def test_the_api_records_the_consent_given_with_the_send(client, loop):
    """The client's consent, given with the send over the API, is recorded in the send's
    transaction (the same service as the send page) and carries the referral; the same key
    again returns that referral and records no second consent."""
    consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="Asked")
    given = {"method": "verbal", "attestation": "I read the consent script in Spanish."}
    response = _api_send_with_consent(client, loop, given)
    assert response.status_code == 201, response.content[:500]
    (sent,) = response.json()["referrals"]
    referral = Referral.objects.get(pk=sent["id"])
    consent = referral.consent
    assert consent != loop.consent
    assert consent.method == "verbal"
    assert consent.attestation == given["attestation"]
    assert consent.categories == [FOOD]
    assert not consent.whole_network
    assert list(consent.recipients.all()) == [loop.food_agency]
    assert consent.recorded_by == loop.clinic_staff
    again = _api_send_with_consent(client, loop, given)
    assert again.status_code == 201
    assert [r["id"] for r in again.json()["referrals"]] == [referral.pk]
    assert Consent.objects.filter(client=loop.client).count() == 2  # the revoked one, this one


def test_a_consent_the_api_cannot_record_writes_nothing(client, loop):
    """Verbal consent without the words the client agreed to: refused (400) before anything
    is written, the consent and the referral alike."""
    consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="Asked")
    consents = Consent.objects.count()
    before = writes(loop)
    response = _api_send_with_consent(client, loop, {"method": "verbal"}, key="unattested")
    assert response.status_code == 400
    assert "attestation" in {d["field"] for d in response.json()["details"]}
    assert Consent.objects.count() == consents
    assert writes(loop) == before


def test_send_goes_through_with_the_good_consent(loop):
    """Control: the same send, consent intact, creates the referral, its event and the news."""
    before = writes(loop)
    referral = loop.send(categories=[FOOD], note=NOTE)
    after = writes(loop)
    assert referral.consent == loop.consent
    assert after["referrals"] == before["referrals"] + 1
    assert after["events"] == before["events"] + 1
    assert after["notifications"] > before["notifications"]
    assert after["access_log"] == 0  # sending is not a disclosure to a person yet


# --- agency view and list -------------------------------------------------------------------


@pytest.fixture
def every_field(loop: Loop) -> DataSharingAgreement:
    """The food agency's agreement lets every client field through, so that only consent
    stands between the client's data and the agency."""
    agreement = consent_services.agreement_create(
        by=loop.admin,
        agency=loop.food_agency,
        fields=ClientField.values,
        effective_from=loop.agreements["food"].effective_from,
    )
    return consent_services.agreement_activate(agreement=agreement, by=loop.admin)


def _not_yet_in_force(loop: Loop, referral: Referral) -> None:
    # A referral cannot lose its consent row (it is protected); "none in force" is the same
    # thing for disclosure: the only consent it points to has not started.
    now = timezone.now()
    Consent.objects.filter(pk=referral.consent_id).update(
        granted_at=now + timedelta(days=1), expires_at=now + timedelta(days=365)
    )


def _another_organization(loop: Loop, referral: Referral) -> None:
    Consent.objects.filter(pk=referral.consent_id).update(whole_network=False)
    referral.consent.recipients.set([loop.housing_agency])


def _category_not_covered(loop: Loop, referral: Referral) -> None:
    Consent.objects.filter(pk=referral.consent_id).update(
        categories=["housing-instability", "utility-insecurity"]
    )


def _sensitive_not_named(loop: Loop, referral: Referral) -> None:
    referral.consent.sensitive_recipients.set([loop.housing_agency])


def _network_sensitive(loop: Loop, referral: Referral) -> None:
    network = loop.client.network
    network.sensitive_categories = [FOOD]
    network.save(update_fields=["sensitive_categories"])


def _expired(loop: Loop, referral: Referral) -> None:
    Consent.objects.filter(pk=referral.consent_id).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )


def _revoked(loop: Loop, referral: Referral) -> None:
    consent_services.consent_revoke(
        consent=referral.consent, by=loop.clinic_staff, reason="The client withdrew consent."
    )


BREAK: dict[str, Callable[[Loop, Referral], None]] = {
    "no-consent": _not_yet_in_force,
    "another-organization": _another_organization,
    "category-not-covered": _category_not_covered,
    "sensitive-not-named": _sensitive_not_named,
    "network-sensitive-not-named": _network_sensitive,
    "expired": _expired,
    "revoked": _revoked,
}


def sent_under_good_consent(loop: Loop, case: str = "") -> Referral:
    categories = [FOOD]
    if case == "sensitive-not-named":
        record(loop, categories=[FOOD, VIOLENCE], sensitive_recipients=[loop.food_agency])
        categories = [FOOD, VIOLENCE]
    referral = loop.send(categories=categories, note=NOTE)
    assert consent_covers(
        referral.consent, recipient=loop.food_agency, categories=referral.categories
    )
    return referral


def agency_sees(client, loop: Loop, referral: Referral, surface: str) -> str:  # type: ignore[no-untyped-def]
    """What the food agency's staff get on ``surface``, checked for the referral's presence."""
    act_as(client, loop.agency_staff, loop.food_agency)
    if surface == "page":
        response = client.get(reverse("referrals:referral_detail", args=[referral.pk]))
        assert response.status_code == 200
        return response.content.decode()
    if surface == "api-detail":
        response = client.get(reverse("referrals:api:referral", args=[referral.pk]))
        assert response.status_code == 200
        assert response.json()["id"] == referral.pk
        return response.content.decode()
    if surface == "api-list":
        response = client.get(reverse("referrals:api:referrals"))
        assert response.status_code == 200
        assert referral.pk in [row["id"] for row in response.json()["contents"]]
        return response.content.decode()
    if surface == "fhir":
        # The agency's system reads the Task, its ServiceRequest (the note) and the Patient.
        ehr = ehr_make(loop.food_agency, name="Agency system").sign_in()
        task = ehr.get(f"Task/{referral.pk}")
        assert task.status_code == 200
        focus = task.json()["focus"]["reference"]
        bodies = [task, ehr.get(focus), ehr.get(f"Patient/{referral.client_id}")]
        assert [b.status_code for b in bodies] == [200, 200, 200]
        return "\n".join(b.content.decode() for b in bodies)
    if surface == "fhir-search":
        ehr = ehr_make(loop.food_agency, name="Agency system").sign_in()
        found = ehr.get(f"Task?owner=Organization/{loop.food_agency.pk}&_include=Task:focus")
        assert found.status_code == 200
        assert str(referral.pk) in [e["resource"]["id"] for e in found.json()["entry"]]
        return found.content.decode()
    assert surface == "inbox"
    rows = list(referral_inbox(user=loop.agency_staff, organization=loop.food_agency))
    assert referral in rows
    assert referral in referral_inbox(
        user=loop.agency_staff, organization=loop.food_agency, status="open"
    )
    return ""


SURFACES = ["page", "api-detail", "api-list", "inbox", "fhir", "fhir-search"]


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("case", CASES)
def test_agency_sees_nothing_and_nothing_is_logged(client, loop, every_field, case, surface):
    referral = sent_under_good_consent(loop, case)
    BREAK[case](loop, referral)
    body = agency_sees(client, loop, referral, surface)
    assert leaked(body) == []
    if surface == "page":
        assert 'data-testid="withdrawn"' in body
        assert 'data-testid="disclosed"' not in body
    if surface == "api-detail":
        detail = client.get(reverse("referrals:api:referral", args=[referral.pk])).json()
        assert detail["withdrawn"] is True
        assert detail["client"] == {}
        assert detail["disclosed_fields"] == []
    assert AccessLog.objects.count() == 0


@pytest.mark.parametrize("surface", SURFACES)
def test_control_with_good_consent_every_value_shows(client, loop, every_field, surface):
    """The same surfaces with the consent intact: the detail views carry every value (so the
    checks above can see a leak) and log it; the lists never carry client data at all."""
    referral = sent_under_good_consent(loop)
    body = agency_sees(client, loop, referral, surface)
    if surface in {"page", "api-detail", "fhir"}:
        for field, values in CLIENT_VALUES.items():
            assert any(value in body for value in values), field
        assert 'data-testid="withdrawn"' not in body
        assert AccessLog.objects.count() == 1
    else:
        assert leaked(body) == []
        assert AccessLog.objects.count() == 0


def test_revoking_stops_disclosure_at_once(client, loop, every_field):
    referral = sent_under_good_consent(loop)
    url = reverse("referrals:referral_detail", args=[referral.pk])
    act_as(client, loop.agency_staff, loop.food_agency)
    assert "Maria Lopez" in client.get(url).content.decode()
    assert AccessLog.objects.count() == 1
    _revoked(loop, referral)
    body = client.get(url).content.decode()
    assert leaked(body) == []
    assert 'data-testid="withdrawn"' in body
    assert "Consent revoked" in body  # the timeline says why
    assert AccessLog.objects.count() == 1


# --- positive control: exactly the agreed fields, one log row per view ----------------------


def test_agency_page_shows_exactly_the_agreed_fields_and_logs_each_view(client, loop):
    referral = loop.send(categories=[FOOD], note=NOTE)
    url = reverse("referrals:referral_detail", args=[referral.pk])
    act_as(client, loop.agency_staff, loop.food_agency)
    response = client.get(url, headers={"User-Agent": "MatrixBrowser/1.0"})
    body = response.content.decode()
    disclosure = response.context["disclosure"]
    assert disclosure.fields == frozenset(AGREED_FIELDS)
    assert set(disclosure.client) == set(AGREED_FIELDS)
    assert "Maria Lopez" in body
    assert "707-555-0100" in body
    assert "QX-58" in body
    assert "<dd>Spanish — Español</dd>" in body
    for absent in ("maria@example.org", "1980-05-17", "May 17, 1980"):
        assert absent not in body
    (row,) = AccessLog.objects.all()
    assert (row.user, row.organization, row.client, row.referral) == (
        loop.agency_staff,
        loop.food_agency,
        loop.client,
        referral,
    )
    assert row.network_id == loop.tenant.network.pk
    assert row.fields == sorted(AGREED_FIELDS)
    assert row.purpose == "view"
    assert row.ip_address == "127.0.0.1"
    assert row.user_agent == "MatrixBrowser/1.0"
    # A reload within minutes is the same view (bug 11); a view after the window is logged.
    client.get(url)
    assert AccessLog.objects.filter(referral=referral, user=loop.agency_staff).count() == 1
    with time_machine.travel(row.at + DISCLOSURE_LOG_WINDOW + timedelta(minutes=1), tick=False):
        client.get(url)
    assert AccessLog.objects.filter(referral=referral, user=loop.agency_staff).count() == 2


def test_agency_api_detail_shows_exactly_the_agreed_fields_and_logs_it(client, loop):
    referral = loop.send(categories=[FOOD], note=NOTE)
    act_as(client, loop.agency_staff, loop.food_agency)
    body = client.get(reverse("referrals:api:referral", args=[referral.pk])).json()
    assert body["withdrawn"] is False
    assert body["disclosed_fields"] == sorted(AGREED_FIELDS)
    assert body["client"] == {
        "name": "Maria Lopez",
        "phone": "707-555-0100",
        "contact_preferences": {"preference": "any", "notes": "", "do_not_contact": False},
        "preferred_language": "es",
        "note": NOTE,
    }
    (row,) = AccessLog.objects.all()
    assert (row.user, row.organization, row.client, row.purpose) == (
        loop.agency_staff,
        loop.food_agency,
        loop.client,
        "api",
    )
    assert row.fields == sorted(AGREED_FIELDS)


def test_sender_views_are_not_disclosures(client, loop):
    referral = loop.send(categories=[FOOD], note=NOTE)
    act_as(client, loop.clinic_staff, loop.clinic)
    body = client.get(reverse("referrals:referral_detail", args=[referral.pk])).content.decode()
    assert "Maria Lopez" in body
    assert "maria@example.org" in body
    # The clinic's own read is logged (for the network's audit page), not as a disclosure.
    row = AccessLog.objects.get()
    assert (row.organization, row.user, row.purpose) == (loop.clinic, loop.clinic_staff, "view")
    assert not disclosures_for_client(
        client=loop.client, user=loop.clinic_staff, organization=loop.clinic
    ).exists()
