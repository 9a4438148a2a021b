"""Sends that are refused, and write nothing: consent and agreement refusals, bad input (and the
service location that is accepted), and every wrong role, including a retried key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from consent import services as consent_services
from directory.models import Location, ServicePage
from network import services
from network.models import Role, User
from referrals.errors import AgreementMissing, ConsentRequired
from tests.network.factories import UserFactory, organization_make
from tests.referrals.factories import SENT_AT, Loop
from tests.referrals.send_cases import send_as, written

# The loop's fixed clock (tests/conftest.py): what a test does "now" comes before SENT_AT.
pytestmark = pytest.mark.usefixtures("clock_before_sent_at")


# --- refusals ---------------------------------------------------------------------------------


def _revoked(loop: Loop) -> dict[str, Any]:
    consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="Asked")
    return {}


def _expired(loop: Loop) -> dict[str, Any]:
    return {"now": loop.consent.expires_at + timedelta(minutes=1)}


def _not_yet_granted(loop: Loop) -> dict[str, Any]:
    return {"now": loop.consent.granted_at - timedelta(minutes=1)}


def _need_not_covered(loop: Loop) -> dict[str, Any]:
    return {"categories": ["food-insecurity", "utility-insecurity"]}


def _other_recipient_named(loop: Loop) -> dict[str, Any]:
    consent_services.consent_revoke(consent=loop.consent, by=loop.clinic_staff, reason="New")
    consent_services.consent_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["food-insecurity"],
        method="verbal",
        attestation="Script read.",
        recipients=[loop.housing_agency],
        granted_at=SENT_AT - timedelta(days=1),
    )
    return {}


def _sensitive_not_named(loop: Loop) -> dict[str, Any]:
    consent_services.consent_record(
        client=loop.client,
        by=loop.clinic_staff,
        organization=loop.clinic,
        categories=["food-insecurity", "intimate-partner-violence"],
        method="verbal",
        attestation="Script read.",
        whole_network=True,
        granted_at=SENT_AT - timedelta(days=1),
    )
    return {"categories": ["food-insecurity", "intimate-partner-violence"]}


def _terminated(loop: Loop) -> dict[str, Any]:
    consent_services.agreement_terminate(agreement=loop.agreements["food"], by=loop.admin)
    return {}


def _draft_only(loop: Loop) -> dict[str, Any]:
    _terminated(loop)
    consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=["name"], effective_from=date(2026, 1, 1)
    )
    return {}


def _superseded_only(loop: Loop) -> dict[str, Any]:
    newer = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=["name"], effective_from=date(2026, 1, 1)
    )
    newer = consent_services.agreement_activate(agreement=newer, by=loop.admin)
    consent_services.agreement_terminate(agreement=newer, by=loop.admin)
    return {}


def _ended(loop: Loop) -> dict[str, Any]:
    _terminated(loop)
    ended = consent_services.agreement_create(
        by=loop.admin,
        agency=loop.food_agency,
        fields=["name"],
        effective_from=date(2026, 1, 1),
        effective_to=date(2026, 6, 30),
    )
    consent_services.agreement_activate(agreement=ended, by=loop.admin)
    return {}


def _not_yet_effective(loop: Loop) -> dict[str, Any]:
    _terminated(loop)
    later = consent_services.agreement_create(
        by=loop.admin, agency=loop.food_agency, fields=["name"], effective_from=date(2027, 1, 1)
    )
    consent_services.agreement_activate(agreement=later, by=loop.admin)
    return {}


def _for_another_clinic_only(loop: Loop) -> dict[str, Any]:
    _terminated(loop)
    clinic2 = organization_make(loop.tenant.network, "clinic", name="Second Clinic")
    scoped = consent_services.agreement_create(
        by=loop.admin,
        agency=loop.food_agency,
        clinic=clinic2,
        fields=["name"],
        effective_from=date(2026, 1, 1),
    )
    consent_services.agreement_activate(agreement=scoped, by=loop.admin)
    return {}


def _contact_directly(loop: Loop) -> dict[str, Any]:
    ServicePage.objects.filter(pk=loop.food.pk).update(referral_method="contact-directly")
    return {"service": ServicePage.objects.get(pk=loop.food.pk)}


def _agency_inactive(loop: Loop) -> dict[str, Any]:
    services.organization_update(organization=loop.food_agency, is_active=False)
    return {}


REFUSALS: dict[str, tuple[Callable[[Loop], dict[str, Any]], type[Exception]]] = {
    "consent revoked": (_revoked, ConsentRequired),
    "consent expired": (_expired, ConsentRequired),
    "consent not yet given": (_not_yet_granted, ConsentRequired),
    "need not covered": (_need_not_covered, ConsentRequired),
    "consent names another agency": (_other_recipient_named, ConsentRequired),
    "sensitive need, agency not named": (_sensitive_not_named, ConsentRequired),
    "agreement terminated": (_terminated, AgreementMissing),
    "only a draft agreement": (_draft_only, AgreementMissing),
    "only a superseded agreement": (_superseded_only, AgreementMissing),
    "agreement ended (effective_to)": (_ended, AgreementMissing),
    "agreement not yet effective": (_not_yet_effective, AgreementMissing),
    "agreement for another clinic only": (_for_another_clinic_only, AgreementMissing),
    "service takes no electronic referrals": (_contact_directly, AgreementMissing),
    "agency inactive": (_agency_inactive, AgreementMissing),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_consent_and_agreement_refusals_write_nothing(
    loop, django_capture_on_commit_callbacks, case
):
    arrange, expected = REFUSALS[case]
    kwargs = arrange(loop)
    before = written()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(expected) as refused,
    ):
        loop.send(**{"now": SENT_AT, **kwargs})

    assert str(refused.value)  # a message the clinic can read
    assert written() == before
    assert callbacks == []
    assert mail.outbox == []


def _other_location(loop: Loop) -> dict[str, Any]:
    return {"location": Location.objects.get(page=loop.housing.get_parent())}


def _unpublished(loop: Loop) -> dict[str, Any]:
    loop.food.unpublish()
    return {"service": ServicePage.objects.get(pk=loop.food.pk)}


BAD_INPUT: dict[str, tuple[Callable[[Loop], dict[str, Any]], str]] = {
    "no categories": (lambda loop: {"categories": []}, "categories"),
    "unknown category": (lambda loop: {"categories": ["hunger"]}, "categories"),
    "unknown urgency": (lambda loop: {"urgency": "asap"}, "urgency"),
    "note too long": (lambda loop: {"note": "x" * 5001}, "note"),
    "empty key": (lambda loop: {"key": "  "}, "idempotency_key"),
    "key too long": (lambda loop: {"key": "k" * 101}, "idempotency_key"),
    "service unpublished": (_unpublished, "service"),
    "location of another service": (_other_location, "location"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_refused_and_writes_nothing(loop, django_capture_on_commit_callbacks, case):
    arrange, field = BAD_INPUT[case]
    kwargs = arrange(loop)
    before = written()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(ValidationError) as refused,
    ):
        loop.send(**{"now": SENT_AT, **kwargs})

    assert field in refused.value.message_dict
    assert written() == before
    assert callbacks == []


def test_a_location_of_the_service_is_recorded(loop):
    location = Location.objects.get(page=loop.food.get_parent())

    referral = loop.send(location=location, now=SENT_AT)

    assert referral.location == location


def _agency_staff_for_clinic(loop: Loop, other_loop: Loop) -> tuple[User, Any]:
    return loop.agency_staff, loop.clinic


def _agency_staff_for_agency(loop: Loop, other_loop: Loop) -> tuple[User, Any]:
    return loop.agency_staff, loop.food_agency


def _other_clinic_staff_for_their_clinic(loop: Loop, other_loop: Loop) -> tuple[User, Any]:
    clinic2 = organization_make(loop.tenant.network, "clinic", name="Second Clinic")
    staff2 = UserFactory(username="second-clinic-staff")
    services.membership_grant(
        user=staff2, role=Role.CLINIC_STAFF, organization=clinic2, notify=False
    )
    return staff2, clinic2


def _other_clinic_staff_for_this_clinic(loop: Loop, other_loop: Loop) -> tuple[User, Any]:
    staff2, _clinic2 = _other_clinic_staff_for_their_clinic(loop, other_loop)
    return staff2, loop.clinic


def _other_network_clinic_staff(loop: Loop, other_loop: Loop) -> tuple[User, Any]:
    return other_loop.clinic_staff, other_loop.clinic


def _network_admin(loop: Loop, other_loop: Loop) -> tuple[User, Any]:
    return loop.admin, loop.clinic


def _outsider(loop: Loop, other_loop: Loop) -> tuple[User, Any]:
    return UserFactory(username="nobody"), loop.clinic


def _deactivated_clinic_staff(loop: Loop, other_loop: Loop) -> tuple[User, Any]:
    User.objects.filter(pk=loop.clinic_staff.pk).update(is_active=False)
    return User.objects.get(pk=loop.clinic_staff.pk), loop.clinic


WRONG_ROLES: dict[str, Callable[[Loop, Loop], tuple[User, Any]]] = {
    "agency staff for the clinic": _agency_staff_for_clinic,
    "agency staff for their agency": _agency_staff_for_agency,
    "another clinic's staff for their clinic": _other_clinic_staff_for_their_clinic,
    "another clinic's staff for this clinic": _other_clinic_staff_for_this_clinic,
    "clinic staff of another network": _other_network_clinic_staff,
    "network admin": _network_admin,
    "outsider": _outsider,
    "deactivated clinic staff": _deactivated_clinic_staff,
}


@pytest.mark.parametrize("case", list(WRONG_ROLES))
def test_wrong_roles_cannot_send(loop, other_loop, django_capture_on_commit_callbacks, case):
    by, sender = WRONG_ROLES[case](loop, other_loop)
    before = written()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(PermissionDenied),
    ):
        send_as(loop, by, sender)

    assert written() == before
    assert callbacks == []


def test_a_retried_key_does_not_let_the_wrong_role_see_the_referral(loop):
    """An idempotent answer is still an answer: only the sender's staff may get it."""
    loop.send(key="k1", now=SENT_AT)

    with pytest.raises(PermissionDenied):
        send_as(loop, loop.agency_staff, loop.clinic, key="k1")
