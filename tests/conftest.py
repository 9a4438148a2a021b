from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.test import Client as HttpClient
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from network import services
from network.models import Network, Organization, Role, User
from network.two_factor import two_factor_required
from tests.factories import UserFactory, network_make, organization_make


@dataclass
class Tenant:
    """One network with a clinic, an agency and one user per role."""

    network: Network
    clinic: Organization
    agency: Organization
    users: dict[str, User] = field(default_factory=dict)


def tenant_make(label: str) -> Tenant:
    network = network_make(f"{label} Network")
    tenant = Tenant(
        network=network,
        clinic=organization_make(network, "clinic", name=f"{label} Clinic"),
        agency=organization_make(network, "agency", name=f"{label} Agency"),
    )
    places = {
        Role.CLINIC_STAFF: tenant.clinic,
        Role.CLINIC_ADMIN: tenant.clinic,
        Role.AGENCY_STAFF: tenant.agency,
        Role.AGENCY_ADMIN: tenant.agency,
    }
    for role in Role:
        user = UserFactory(username=f"{label.lower()}-{role.value}")
        if role == Role.NETWORK_ADMIN:
            services.membership_grant(user=user, role=role, network=network, notify=False)
        else:
            services.membership_grant(user=user, role=role, organization=places[role], notify=False)
        tenant.users[role.value] = user
    return tenant


@pytest.fixture(autouse=True)
def cache_empty() -> None:
    """Each test starts with an empty cache (dashboard snapshots, rate limits…): the database
    is rolled back between tests, and a cached value must not outlive the rows it came from."""
    from django.core.cache import cache

    cache.clear()


# The test client's own force_login: signs in with the password step only.
force_login_unverified = HttpClient.force_login


def login_verified(http: HttpClient, user: User, backend: str | None = None) -> None:
    """Sign in as ``user`` as after both steps: someone who must use two-factor sign-in gets an
    authenticator (made here if they have none) and a session verified with it."""
    force_login_unverified(http, user, backend)
    if two_factor_required(user=user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = http.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


@pytest.fixture(autouse=True)
def force_login_verified(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's ``client.force_login`` passes two-factor sign-in (the requirement stays on);
    the tests of two-factor sign-in call ``force_login_unverified``."""
    monkeypatch.setattr(HttpClient, "force_login", login_verified)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return tenant_make("Alpha")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return tenant_make("Bravo")


@pytest.fixture
def outsider(db) -> User:
    """Signed-in user with no membership anywhere."""
    return UserFactory(username="outsider")


@pytest.fixture
def superuser(db) -> User:
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: their live-server flushes must not precede a test that restores
    the database from its serialized copy (the Celery worker and gunicorn tests)."""
    items.sort(key=lambda item: "tests/e2e/" in str(item.path))
