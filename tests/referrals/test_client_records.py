"""Editing a client's details and merging duplicates: everything pointing at the duplicate
moves to the record kept in one transaction, the duplicate's identity stays in an audit entry,
only the clinic's admins merge, and never across clinics or networks."""

from __future__ import annotations

import html
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.urls import reverse

from consent import services as consent_services
from consent.models import AccessLog, Consent
from network.models import Membership, Role
from referrals.models import Client, ClientMerge, Referral, Screening
from referrals.services import merging
from referrals.services.clients import client_create, client_update, screening_record
from referrals.services.merging import clients_merge
from tests.conftest import act_as
from tests.referrals.factories import all_negative


def _edit(client: Client) -> str:
    return reverse("referrals:client_edit", args=[client.pk])


def _merge(client: Client) -> str:
    return reverse("referrals:client_merge", args=[client.pk])


@pytest.fixture
def clinic_admin(client, loop):  # type: ignore[no-untyped-def]
    return act_as(client, loop.tenant.users[Role.CLINIC_ADMIN], loop.clinic)


@pytest.fixture
def duplicate(loop) -> Client:  # type: ignore[no-untyped-def]
    """Maria Lopez added again with her name misspelt, screened, with a referral."""
    twin = client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Maria",
        last_name="Lopes",
        date_of_birth=date(1980, 5, 17),
        external_id="MRN-9",
        confirm_new=True,
    )
    screening_record(
        client=twin, by=loop.clinic_staff, organization=loop.clinic, answers=all_negative()
    )
    return twin


def _form(client: Client, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": client.first_name,
        "last_name": client.last_name,
        "date_of_birth": client.date_of_birth.isoformat(),
        "external_id": client.external_id,
        "phone": client.phone,
        "email": client.email,
        "postal_code": client.postal_code,
        "preferred_language": client.preferred_language,
        "contact_preference": client.contact_preference,
    }
    data.update(changes)
    return data


# --- edit ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_edit_a_clients_details(staff, loop):
    assert staff.get(_edit(loop.client)).status_code == 200
    response = staff.post(
        _edit(loop.client),
        _form(
            loop.client,
            last_name="López Ruiz",
            postal_code="95501",
            preferred_language="en",
            contact_preference="text",
        ),
    )
    assert response.status_code == 302
    loop.client.refresh_from_db()
    assert loop.client.last_name == "López Ruiz"
    assert loop.client.postal_code == "95501"
    assert loop.client.contact_preference == "text"
    assert " RS " in loop.client.name_key  # the name key follows the new name


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [({"first_name": ""}, "first_name"), ({"date_of_birth": "2999-01-01"}, "date_of_birth")],
)
def test_bad_details_are_refused_with_400_and_nothing_saved(staff, loop, changes, field):
    response = staff.post(_edit(loop.client), _form(loop.client, **changes))
    assert response.status_code == 400
    assert response.context["form"].errors[field]
    loop.client.refresh_from_db()
    assert loop.client.first_name == "Maria"


@pytest.mark.django_db
def test_a_record_number_of_another_client_is_refused(staff, loop, duplicate):
    response = staff.post(_edit(loop.client), _form(loop.client, external_id="MRN-9"))
    assert response.status_code == 400
    # Its own number is not "another client's".
    assert staff.post(_edit(duplicate), _form(duplicate)).status_code == 302


@pytest.mark.django_db
def test_wrong_roles_cannot_edit(intruder, loop):
    assert intruder.get(_edit(loop.client)).status_code in {403, 404}
    assert intruder.post(_edit(loop.client), _form(loop.client, first_name="X")).status_code in {
        403,
        404,
    }
    loop.client.refresh_from_db()
    assert loop.client.first_name == "Maria"


@pytest.mark.django_db
def test_the_service_refuses_another_clinic(loop, other_loop):
    with pytest.raises(PermissionDenied):
        client_update(
            client=loop.client,
            by=other_loop.clinic_staff,
            organization=other_loop.clinic,
            first_name="X",
        )


# --- merge -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_find_the_misspelt_duplicate_then_confirm_and_merge(clinic_admin, loop, duplicate):
    page = clinic_admin.get(reverse("referrals:client_detail", args=[loop.client.pk]))
    assert _merge(loop.client) in page.content.decode()
    found = clinic_admin.post(_merge(loop.client), {"action": "find", "q": "lopes"})
    assert found.status_code == 200
    assert found.context["candidates"] == [duplicate]
    confirm = clinic_admin.get(_merge(loop.client), {"other": duplicate.pk})
    body = html.unescape(confirm.content.decode())
    assert "Merge Maria Lopes into Maria Lopez" in body
    assert "1 screenings, 0 consents, 0 referrals" in body
    loop_referral = loop.send(key="before-merge")
    response = clinic_admin.post(_merge(loop.client), {"action": "merge", "other": duplicate.pk})
    assert response.status_code == 302
    assert Screening.objects.filter(client=loop.client).count() == 1
    assert Referral.objects.get(pk=loop_referral.pk).client_id == loop.client.pk
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id == loop.client.pk
    # Gone from the lists and pages.
    assert (
        clinic_admin.get(reverse("referrals:client_detail", args=[duplicate.pk])).status_code == 404
    )
    listed = clinic_admin.post(reverse("referrals:client_list"), {"q": "lop"}).content.decode()
    assert "Lopes" not in listed


@pytest.mark.django_db
def test_merge_moves_everything_and_is_audited(loop, duplicate):
    consent = consent_services.consent_record(
        client=duplicate,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["food-insecurity"],
        method="verbal",
        whole_network=True,
        recipients=[],
        sensitive_recipients=[],
        attestation="Read aloud.",
    )
    referral = loop.send(key="dup")
    Referral.objects.filter(pk=referral.pk).update(client=duplicate)
    logged_before = AccessLog.objects.filter(client=duplicate).count()
    admin = loop.tenant.users[Role.CLINIC_ADMIN]

    merge = clients_merge(kept=loop.client, removed=duplicate, by=admin, organization=loop.clinic)

    assert Consent.objects.get(pk=consent.pk).client_id == loop.client.pk
    assert Referral.objects.get(pk=referral.pk).client_id == loop.client.pk
    assert not Screening.objects.filter(client=duplicate).exists()
    assert merge.moved == {"consent.Consent": 1, "referrals.Screening": 1, "referrals.Referral": 1}
    assert (merge.by, merge.kept, merge.removed) == (admin, loop.client, duplicate)
    assert merge.removed_identity["last_name"] == "Lopes"
    assert merge.removed_identity["external_id"] == "MRN-9"
    assert merge.removed_identity["date_of_birth"] == "1980-05-17"
    # The record number goes with the person; the access log keeps naming the record it saw.
    loop.client.refresh_from_db()
    assert loop.client.external_id == "MRN-9"
    assert AccessLog.objects.filter(client=duplicate).count() == logged_before
    with pytest.raises((ValueError, IntegrityError)):
        ClientMerge.objects.filter(pk=merge.pk).update(removed_identity={})


@pytest.mark.django_db
def test_a_failure_midway_moves_nothing(loop, duplicate, monkeypatch):
    admin = loop.tenant.users[Role.CLINIC_ADMIN]

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("audit write failed")

    monkeypatch.setattr(merging.ClientMerge.objects, "create", broken)
    with pytest.raises(RuntimeError):
        clients_merge(kept=loop.client, removed=duplicate, by=admin, organization=loop.clinic)
    assert Screening.objects.filter(client=duplicate).count() == 1
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None


@pytest.mark.django_db
def test_clinic_staff_may_not_merge(staff, loop, duplicate):
    """Merging is for the clinic's admins: staff see no button and are refused (403)."""
    page = staff.get(reverse("referrals:client_detail", args=[loop.client.pk])).content.decode()
    assert _merge(loop.client) not in page
    assert staff.get(_merge(loop.client)).status_code == 403
    response = staff.post(_merge(loop.client), {"action": "merge", "other": duplicate.pk})
    assert response.status_code == 403
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None
    with pytest.raises(PermissionDenied):
        clients_merge(
            kept=loop.client, removed=duplicate, by=loop.clinic_staff, organization=loop.clinic
        )


@pytest.mark.django_db
def test_never_across_clinics_or_networks(loop, other_loop, second_clinic_staff):
    admin = loop.tenant.users[Role.CLINIC_ADMIN]
    with pytest.raises(ValidationError):
        clients_merge(
            kept=loop.client, removed=other_loop.client, by=admin, organization=loop.clinic
        )
    clinic = Membership.objects.get(user=second_clinic_staff).organization
    elsewhere = client_create(
        organization=clinic,
        by=second_clinic_staff,
        first_name="Maria",
        last_name="Lopez",
        date_of_birth=date(1980, 5, 17),
    )
    with pytest.raises(ValidationError):
        clients_merge(kept=loop.client, removed=elsewhere, by=admin, organization=loop.clinic)
    with pytest.raises(ValidationError):
        clients_merge(kept=loop.client, removed=loop.client, by=admin, organization=loop.clinic)


@pytest.mark.django_db
def test_another_clinics_client_is_not_offered_on_the_page(clinic_admin, loop, other_loop):
    response = clinic_admin.post(
        _merge(loop.client), {"action": "merge", "other": other_loop.client.pk}
    )
    assert response.status_code == 200  # refused before anything: the client is not theirs
    other_loop.client.refresh_from_db()
    assert other_loop.client.merged_into_id is None
    assert "not one of your clinic" in html.unescape(response.content.decode())


@pytest.mark.django_db
def test_other_networks_admin_cannot_reach_the_page(client, loop, other_loop):
    act_as(client, other_loop.tenant.users[Role.CLINIC_ADMIN], other_loop.clinic)
    assert client.get(_merge(loop.client)).status_code == 404


@pytest.mark.django_db
def test_the_kept_records_accounting_of_disclosures_includes_the_duplicates(staff, loop, duplicate):
    consent_services.access_log_write(
        user=loop.agency_staff,
        organization=loop.food_agency,
        purpose="view",
        fields=["name"],
        seen=[(duplicate.pk, None)],
        ip_address=None,
    )
    admin = loop.tenant.users[Role.CLINIC_ADMIN]
    clients_merge(kept=loop.client, removed=duplicate, by=admin, organization=loop.clinic)
    page = staff.get(reverse("referrals:client_disclosures", args=[loop.client.pk]))
    assert "Harbor Food Bank" in html.unescape(page.content.decode())


@pytest.mark.django_db
def test_a_record_merged_twice_follows_to_the_last_record_kept(loop, duplicate):
    admin = loop.tenant.users[Role.CLINIC_ADMIN]
    third = client_create(
        organization=loop.clinic,
        by=loop.clinic_staff,
        first_name="Mary",
        last_name="Lopez",
        date_of_birth=date(1980, 5, 17),
        confirm_new=True,
    )
    clients_merge(kept=duplicate, removed=third, by=admin, organization=loop.clinic)
    merge = clients_merge(kept=loop.client, removed=duplicate, by=admin, organization=loop.clinic)
    third.refresh_from_db()
    assert third.merged_into_id == loop.client.pk
    assert merge.moved["referrals.Client"] == 1
