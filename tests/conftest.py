from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from network import services
from network.models import Network, Organization, Role, User
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
