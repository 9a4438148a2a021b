"""The people and directory of the browser tests of the referral loop: one clinic, two agencies
(each with one service, one staff member and a data-sharing agreement), a network admin and a
client who has not yet consented to anything."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from consent import services as consent_services
from consent.models import ClientField
from directory.models import ServicePage
from network import services
from network.models import Organization, Role, User
from referrals.models import Client
from referrals.services.clients import client_create
from search.services import search_index_rebuild
from tests.e2e.words import page_words
from tests.network.factories import Tenant
from tests.referrals.factories import loop_directory

PASSWORD = "pw"  # as tests.network.factories.UserFactory sets it
# The network admin's authenticator app (they must use two-factor sign-in).
AUTHENTICATOR_KEY = b"e2e-authenticator-01".hex()
# What both agreements let the agencies see: no date of birth, no address, no email.
AGREED_FIELDS = [
    ClientField.NAME,
    ClientField.PHONE,
    ClientField.CONTACT_PREFERENCES,
    ClientField.PREFERRED_LANGUAGE,
    ClientField.NOTE,
]
# The smallest outcome window an agreement may have (agreement_outcome_days_positive).
OUTCOME_DAYS = 1
CLIENT_DOB = date(1980, 5, 17)
CLIENT_STREET = "742 Evergreen Terrace"


@dataclass
class Cast:
    tenant: Tenant
    food: ServicePage
    housing: ServicePage
    food_agency: Organization
    housing_agency: Organization
    food_staff: User
    housing_staff: User
    client: Client

    @property
    def clinic(self) -> Organization:
        return self.tenant.clinic

    @property
    def clinic_staff(self) -> User:
        return self.tenant.users[Role.CLINIC_STAFF]

    @property
    def admin(self) -> User:
        return self.tenant.users[Role.NETWORK_ADMIN]


def cast_make(tenant: Tenant) -> Cast:
    network = tenant.network
    food, housing = loop_directory(network)
    # Both speak the client's language: the search that starts from her filters by it.
    ServicePage.objects.filter(pk__in=[food.pk, housing.pk]).update(languages=["en", "es"])
    search_index_rebuild(network=network)
    food.refresh_from_db()
    housing.refresh_from_db()
    food_agency = food.get_parent().specific.organization
    housing_agency = housing.get_parent().specific.organization
    admin = tenant.users[Role.NETWORK_ADMIN]
    two_factor_enrol(admin)
    staff = {}
    for name, agency in (("food", food_agency), ("housing", housing_agency)):
        # One membership each: they land in their agency without switching.
        staff[name] = User.objects.create_user(
            username=f"{name}-staff", password=PASSWORD, first_name=name.title(), last_name="Staff"
        )
        services.membership_grant(
            user=staff[name], role=Role.AGENCY_STAFF, organization=agency, notify=False
        )
        agreement = consent_services.agreement_create(
            by=admin,
            agency=agency,
            fields=AGREED_FIELDS,
            effective_from=timezone.localdate() - timedelta(days=30),
            outcome_days=OUTCOME_DAYS,
        )
        consent_services.agreement_activate(agreement=agreement, by=admin)
    client = client_create(
        organization=tenant.clinic,
        by=tenant.users[Role.CLINIC_STAFF],
        first_name="Maria",
        last_name="Lopez",
        date_of_birth=CLIENT_DOB,
        phone="707-555-0100",
        email="maria@example.org",
        address_1=CLIENT_STREET,
        city="Eureka",
        state="CA",
        postal_code="95501",
        preferred_language="es",
    )
    return Cast(
        tenant=tenant,
        food=food,
        housing=housing,
        food_agency=food_agency,
        housing_agency=housing_agency,
        food_staff=staff["food"],
        housing_staff=staff["housing"],
        client=client,
    )


def two_factor_enrol(user: User) -> None:
    """Give ``user`` the authenticator app (``AUTHENTICATOR_KEY``) and a few recovery codes."""
    TOTPDevice.objects.create(user=user, name="phone", key=AUTHENTICATOR_KEY, confirmed=True)
    codes = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    for n in range(5):
        StaticToken.objects.create(device=codes, token=f"recovery{n}")


def two_factor_code(user: User) -> str:
    """What the person types after the password: the app's code, the next period's code when
    this period's was already used (a code is accepted once), else a recovery code."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    period = int(time.time() - device.t0) // device.step
    for ahead in (0, 1):  # django-otp accepts one period of drift
        if device.last_t < period + ahead:
            return f"{totp(device.bin_key, step=device.step, t0=device.t0, drift=ahead):06d}"
    return str(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)[0])


def log_in(page, site: str, user: User) -> None:  # type: ignore[no-untyped-def]
    """Through the sign-in form (and the code form after it, for admins), as a person would, in
    the language the browser asks for."""
    page.goto(f"{site}/accounts/login/")
    t = page_words(page)
    page.get_by_label(t("Username")).fill(user.username)
    page.get_by_label(t("Password")).fill(PASSWORD)
    page.get_by_role("button", name=t("Sign in")).click()
    page.wait_for_url(re.compile(r"/workspace/$|/two-factor/verify/"))
    if "/two-factor/verify/" in page.url:
        page.get_by_label(t("Code")).fill(two_factor_code(user))
        page.get_by_role("button", name=t("Verify")).click()
    page.wait_for_url("**/workspace/")


def client_find(page, text: str, found: int) -> None:  # type: ignore[no-untyped-def]
    """On the clients page, type ``text`` and press Find, then wait until the answer is on the
    page ("N clients found"): the list before the search names the same people, and a click
    before the answer lands would race its swap."""
    t = page_words(page)
    page.get_by_label(t("Find a client")).fill(text)
    page.get_by_role("button", name=t("Find")).click()
    answer = t(("%(total)s client found", "%(total)s clients found"), found, total=found)
    page.locator("#client-results").get_by_text(answer, exact=True).wait_for()


def log_out(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name=page_words(page)("Sign out")).click()
    page.wait_for_load_state()
