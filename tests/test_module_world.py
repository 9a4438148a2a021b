"""The suite's kept worlds (``tests.conftest.module_world``): built once for a module, each test
finds them as built, whatever the tests before it changed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from network.models import Network
from tests.conftest import module_world, world_copy
from tests.network.factories import network_make


@pytest.fixture(scope="module")
def kept_network(request: pytest.FixtureRequest) -> Iterator[Network]:
    yield from module_world(request, lambda: network_make("Kept Network"))


@pytest.fixture(scope="module")
def asked_late(request: pytest.FixtureRequest) -> Iterator[Network]:
    yield from module_world(request, lambda: network_make("Late Network"))


@pytest.fixture
def network(kept_network: Network, db: None) -> Network:
    return world_copy(kept_network)


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_finds_the_world_as_built(network: Network, turn: int) -> None:
    # The first turn changes the row, the instance and adds a row; the second finds none of it.
    assert network.name == "Kept Network"
    assert Network.objects.get(pk=network.pk).name == "Kept Network"
    assert not Network.objects.filter(name="Added by a test").exists()
    network.name = "Renamed by a test"
    network.save(update_fields=["name"])
    network_make("Added by a test")


def test_the_copy_is_the_tests_own(network: Network, kept_network: Network) -> None:
    assert network is not kept_network
    assert network.pk == kept_network.pk


@pytest.mark.django_db
def test_a_world_asked_for_once_a_test_has_started_is_refused(
    request: pytest.FixtureRequest,
) -> None:
    with pytest.raises(pytest.UsageError, match="name it among the arguments"):
        request.getfixturevalue("asked_late")
    assert not Network.objects.filter(name="Late Network").exists()
