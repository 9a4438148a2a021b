"""Network admins manage data-sharing agreements in the Wagtail admin, for their network only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consent import services as consent_services
from consent.models import AgreementStatus, DataSharingAgreement
from network.models import Role

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")


def _url(action: str, *args) -> str:
    return reverse(f"wagtailsnippets_consent_datasharingagreement:{action}", args=args)


def _form(agency, *, action="save", fields=("name", "phone"), clinic=None) -> dict:
    data = {
        "agency": agency.pk,
        "clinic": clinic.pk if clinic else "",
        "effective_from": "2026-01-01",
        "effective_to": "",
        "fields": list(fields),
        "response_hours": "16",
        "outcome_days": "30",
        "document": "",
        "action": action,
        "signatories-TOTAL_FORMS": "1",
        "signatories-INITIAL_FORMS": "0",
        "signatories-MIN_NUM_FORMS": "0",
        "signatories-MAX_NUM_FORMS": "1000",
        "signatories-0-name": "Ana Ruiz",
        "signatories-0-title": "Director",
        "signatories-0-organization": agency.name,
        "signatories-0-signed_on": "2025-12-15",
        "signatories-0-ORDER": "1",
    }
    return data


@pytest.mark.django_db
def test_admin_creates_and_activates_a_version(client, tenant_a):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    client.force_login(admin)
    response = client.post(_url("add"), _form(tenant_a.agency, action="activate"))
    assert response.status_code == 302, response.content.decode()[:3000]
    agreement = DataSharingAgreement.objects.get(agency=tenant_a.agency)
    assert (agreement.version, agreement.status) == (1, AgreementStatus.ACTIVE)
    assert agreement.fields == ["contact_preferences", "name", "phone"]  # do-not-contact too
    assert [s.name for s in agreement.signatories.all()] == ["Ana Ruiz"]
    assert agreement.network == tenant_a.network

    # The next version supersedes it when activated.
    response = client.post(_url("add"), _form(tenant_a.agency, action="activate", fields=["name"]))
    assert response.status_code == 302
    versions = dict(
        DataSharingAgreement.objects.filter(agency=tenant_a.agency).values_list("version", "status")
    )
    assert versions == {1: AgreementStatus.SUPERSEDED, 2: AgreementStatus.ACTIVE}


@pytest.mark.django_db
def test_active_agreement_cannot_be_edited_only_terminated(client, tenant_a):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    agreement = consent_services.agreement_activate(
        agreement=consent_services.agreement_create(
            by=admin, agency=tenant_a.agency, fields=["name"], effective_from="2026-01-01"
        ),
        by=admin,
    )
    client.force_login(admin)
    data = _form(tenant_a.agency, fields=["name", "email", "phone"])
    data["signatories-TOTAL_FORMS"] = "0"
    response = client.post(_url("edit", agreement.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    agreement.refresh_from_db()
    assert agreement.fields == ["name"]  # disabled fields keep the signed terms
    data["action"] = "terminate"
    assert client.post(_url("edit", agreement.pk), data).status_code == 302
    agreement.refresh_from_db()
    assert agreement.status == AgreementStatus.TERMINATED


@pytest.mark.django_db
def test_other_networks_admin_sees_nothing(client, tenant_a, tenant_b):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    agreement = consent_services.agreement_create(
        by=admin, agency=tenant_a.agency, fields=["name"], effective_from="2026-01-01"
    )
    client.force_login(tenant_b.users[Role.NETWORK_ADMIN])
    listing = client.get(_url("list"))
    assert listing.status_code == 200
    assert tenant_a.agency.name not in listing.content.decode()
    for action in ("edit", "inspect", "history", "copy"):
        assert client.get(_url(action, agreement.pk)).status_code == 404, action
    # Nor can they make one for another network's agency.
    response = client.post(_url("add"), _form(tenant_a.agency))
    assert response.status_code == 200  # the form comes back with an error
    assert DataSharingAgreement.objects.count() == 1


@pytest.mark.django_db
def test_agreements_are_never_deleted(client, tenant_a):
    admin = tenant_a.users[Role.NETWORK_ADMIN]
    agreement = consent_services.agreement_create(
        by=admin, agency=tenant_a.agency, fields=["name"], effective_from="2026-01-01"
    )
    client.force_login(admin)
    response = client.post(_url("delete", agreement.pk))
    assert response.status_code in {302, 403}
    assert DataSharingAgreement.objects.filter(pk=agreement.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role", [Role.CLINIC_STAFF, Role.CLINIC_ADMIN, Role.AGENCY_STAFF, Role.AGENCY_ADMIN]
)
def test_wrong_roles_cannot_reach_agreements(client, tenant_a, role):
    client.force_login(tenant_a.users[role])
    assert client.get(_url("list")).status_code in {302, 403}
    with pytest.raises(Exception, match="Only the network's admins"):
        consent_services.agreement_create(
            by=tenant_a.users[role], agency=tenant_a.agency, fields=[], effective_from="2026-01-01"
        )
    assert not DataSharingAgreement.objects.exists()


@pytest.mark.django_db
def test_unknown_fields_and_bad_windows_are_refused(tenant_a):
    from django.core.exceptions import ValidationError

    admin = tenant_a.users[Role.NETWORK_ADMIN]
    with pytest.raises(ValidationError) as info:
        consent_services.agreement_create(
            by=admin,
            agency=tenant_a.agency,
            fields=["name", "ssn"],
            effective_from="2026-01-01",
            response_hours=200,
        )
    assert "fields" in info.value.message_dict
    assert "response_hours" in str(info.value) or "__all__" in info.value.message_dict
    with pytest.raises(ValidationError):
        consent_services.agreement_create(
            by=admin, agency=tenant_a.clinic, fields=["name"], effective_from="2026-01-01"
        )
    assert not DataSharingAgreement.objects.exists()
