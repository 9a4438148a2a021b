"""The two networks' admin-visible places (tests/network/admin_places.py), kept for each module
of the admin scoping tests that asks for them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import module_world, world_copy
from tests.network.admin_places import Place, places_make


@pytest.fixture(scope="module")
def places_world(request: pytest.FixtureRequest) -> Iterator[tuple[Place, Place]]:
    yield from module_world(request, places_make)


@pytest.fixture
def places(places_world: tuple[Place, Place], db: None) -> tuple[Place, Place]:
    """Two networks' admin-visible objects (``places_make``), built once for the module (each
    test's changes are rolled back); this test's own copy."""
    return world_copy(places_world)
