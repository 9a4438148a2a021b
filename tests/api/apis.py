"""The JSON APIs the schemathesis suite (``test_schemas.py``) checks against their own OpenAPI
schemas. Adding an API is one line in ``APIS``: where its schema is served, who calls it, on
which host and, if it helps the generator reach real objects, the known values of its
parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from directory.hsds import documents, selectors
from directory.hsds.selectors import HsdsFilter
from directory.models import ServiceDocument
from referrals.models import Referral
from tests.referrals.factories import Loop

# Who calls an API in the suite: "anonymous", or a member of the loop's cast acting for their
# organization ("clinic": the clinic's staff; "agency": the food agency's staff).
Actor = str
# Parameter (path, query or top-level body member) name → values that name real objects of the
# loop; the generator sometimes uses one instead of what it made up. A name may be scoped to
# the operations whose path ends with a given one: "/services/{id} id" is the ``id`` of
# ``…/services/{id}`` only.
KnownValues = Callable[[Loop], dict[str, list[Any]]]
# The host the API is asked on (its ``Host`` header), given the loop.
HostOf = Callable[[Loop], str]


def no_known_values(loop: Loop) -> dict[str, list[Any]]:
    return {}


def any_host(loop: Loop) -> str:
    """Django's test client's own host: an API served on every host."""
    return "testserver"


def network_host(loop: Loop) -> str:
    """The loop's network's own host: an API that answers for the network of the host."""
    return loop.tenant.network.site.hostname


@dataclass(frozen=True)
class ApiUnderTest:
    name: str
    schema_url: str
    actors: tuple[Actor, ...]
    known_values: KnownValues = field(default=no_known_values)
    host: HostOf = field(default=any_host)
    # Settings for the run (e.g. a rate limit the suite's thousands of requests would reach).
    settings: dict[str, Any] = field(default_factory=dict)


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


def hsds_api_values(loop: Loop) -> dict[str, list[Any]]:
    """The network's published services, organizations, taxonomies, terms and services at
    locations, each for its own operation's ``id`` and for the filters that take one, and the
    loop's postcode, so that reads and filters reach them."""
    network = loop.tenant.network
    services = [
        str(i)
        for i in ServiceDocument.objects.filter(network=network).values_list("hsds_id", flat=True)
    ]
    organizations = [
        str(i)
        for i in selectors.published_agencies(network=network).values_list("hsds_id", flat=True)
    ]
    taxonomies = [t["id"] for t in documents.taxonomies(network=network)]
    terms = [t["id"] for t in documents.taxonomy_terms(network=network)]
    places = [
        str(i)
        for i in selectors.filtered_service_at_locations(
            network=network, where=HsdsFilter()
        ).values_list("hsds_id", flat=True)
    ]
    return {
        "/services/{id} id": services,
        "/organizations/{id} id": organizations,
        "/taxonomies/{id} id": taxonomies,
        "/taxonomy_terms/{id} id": terms,
        "/service_at_locations/{id} id": places,
        "organization_id": organizations,
        "taxonomy_id": taxonomies,
        "taxonomy_term_id": terms,
        "parent_id": terms,
        "postcode": ["95501"],
    }


def fhir_api_values(loop: Loop) -> dict[str, list[Any]]:
    """The loop's referrals (Tasks, ServiceRequests, Procedures), client, consent and
    directory, so that reads, updates and searches reach them."""
    referrals = [
        str(pk)
        for pk in Referral.objects.filter(network=loop.tenant.network).values_list("pk", flat=True)
    ]
    return {
        "task_id": referrals,
        "request_id": referrals,
        "procedure_id": referrals,
        "patient_id": [str(loop.client.pk)],
        "consent_id": [str(loop.consent.pk)],
        "/Organization/{id} id": [str(loop.food_agency.pk), str(loop.clinic.pk)],
        "/HealthcareService/{id} id": [str(loop.food.pk), str(loop.housing.pk)],
    }


APIS: list[ApiUnderTest] = [
    ApiUnderTest(
        "referrals",
        "/workspace/api/openapi.json",
        actors=("clinic", "agency"),
        known_values=referral_api_values,
    ),
    ApiUnderTest(
        "hsds",
        "/api/hsds/openapi.json",
        actors=("anonymous",),
        known_values=hsds_api_values,
        host=network_host,
        settings={"HSDS_API_RATE_LIMIT": None},
    ),
    ApiUnderTest(
        "fhir",
        "/fhir/r4/openapi.json",
        # Systems signed in with SMART Backend Services: the clinic's EHR, the agency's system.
        actors=("ehr-clinic", "ehr-agency"),
        known_values=fhir_api_values,
        host=network_host,
    ),
]
