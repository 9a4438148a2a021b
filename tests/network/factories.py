"""Tenancy for tests: people, networks, organizations and a tenant with one user per role,
built through the services, so tests see the same invariants as production."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import factory

from network import services
from network.models import Network, Organization, Role, User

_seq = itertools.count(1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def network_make(name: str | None = None) -> Network:
    n = next(_seq)
    name = name or f"Network {n}"
    return services.network_create(
        name=name, slug=f"net-{n}", hostname=f"net{n}.localhost", port=80
    )


def organization_make(
    network: Network, kind: str = "agency", name: str | None = None, **details
) -> Organization:
    n = next(_seq)
    return services.organization_create(
        network=network, name=name or f"{kind.title()} {n}", kind=kind, **details
    )


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
