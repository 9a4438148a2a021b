"""A small directory with known services, places and hours, for every search test."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from directory.models import (
    ServicePage,
)
from tests.conftest import module_world, world_copy
from tests.directory.factories import directory_make, other_directory_make
from tests.network.factories import Tenant, tenant_make
from tests.search.elasticsearch_support import FakeCluster, fake_cluster


@dataclass
class Directories:
    """Networks A and B, each with its standard services."""

    alpha: Tenant
    bravo: Tenant
    alpha_services: dict[str, ServicePage]
    bravo_services: dict[str, ServicePage]


def _directories_build() -> Directories:
    alpha, bravo = tenant_make("Alpha"), tenant_make("Bravo")
    return Directories(alpha, bravo, directory_make(alpha), other_directory_make(bravo))


@pytest.fixture(scope="module", autouse=True)
def directories_kept(request: pytest.FixtureRequest) -> Iterator[Directories | None]:
    """In a module marked ``kept_directories`` (tests that read the directories), both are
    built once for the module (``module_world``) and ``tenant_a``, ``tenant_b``,
    ``directory`` and ``other_directory`` are this test's copy of them."""
    if request.node.get_closest_marker("kept_directories") is None:
        yield None
        return
    yield from module_world(request, _directories_build)


@pytest.fixture
def directories(directories_kept: Directories | None, db: None) -> Directories | None:
    return None if directories_kept is None else world_copy(directories_kept)


@pytest.fixture
def tenant_a(directories: Directories | None) -> Tenant:
    return tenant_make("Alpha") if directories is None else directories.alpha


@pytest.fixture
def tenant_b(directories: Directories | None) -> Tenant:
    return tenant_make("Bravo") if directories is None else directories.bravo


@pytest.fixture
def directory(directories: Directories | None, tenant_a: Tenant) -> dict[str, ServicePage]:
    return directory_make(tenant_a) if directories is None else directories.alpha_services


@pytest.fixture
def other_directory(directories: Directories | None, tenant_b: Tenant) -> dict[str, ServicePage]:
    return other_directory_make(tenant_b) if directories is None else directories.bravo_services


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    """A fake Elasticsearch cluster over HTTP (``elasticsearch_support.fake_cluster``), for the
    Elasticsearch backend's tests."""
    with fake_cluster() as found:
        yield found
