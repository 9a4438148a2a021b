"""The JSON APIs the schemathesis suite (``test_schemas.py``) checks against their own OpenAPI
schemas. Adding an API is one line in ``APIS``: where its schema is served, who calls it and,
if it helps the generator reach real objects, the known values of its parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from referrals.models import Referral
from tests.referrals.factories import Loop

# Who calls an API in the suite: "anonymous", or a member of the loop's cast acting for their
# organization ("clinic": the clinic's staff; "agency": the food agency's staff).
Actor = str
# Parameter (path, query or top-level body member) name → values that name real objects of the
# loop; the generator sometimes uses one instead of what it made up.
KnownValues = Callable[[Loop], dict[str, list[Any]]]


def no_known_values(loop: Loop) -> dict[str, list[Any]]:
    return {}


@dataclass(frozen=True)
class ApiUnderTest:
    name: str
    schema_url: str
    actors: tuple[Actor, ...]
    known_values: KnownValues = field(default=no_known_values)


def referral_api_values(loop: Loop) -> dict[str, list[Any]]:
    """The loop's referrals, client and services, so that reads, changes and sends reach them."""
    return {
        "referral_id": list(
            Referral.objects.filter(network=loop.tenant.network).values_list("pk", flat=True)
        ),
        "client": [loop.client.pk],
        "targets": [[{"service": loop.food.pk}], [{"service": loop.housing.pk}]],
        "categories": [["food-insecurity"], ["housing-instability"]],
    }


APIS: list[ApiUnderTest] = [
    ApiUnderTest(
        "referrals",
        "/workspace/api/openapi.json",
        actors=("clinic", "agency"),
        known_values=referral_api_values,
    ),
    # The HSDS 3.0 API, public: ApiUnderTest("hsds", "/api/hsds/openapi.json", ("anonymous",)),
]
