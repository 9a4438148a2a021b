"""Factories that build through the services, so tests see the same invariants as production."""

from __future__ import annotations

import itertools

import factory

from network import services
from network.models import Network, Organization, User

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
