"""A network's published directory as HSDS 3.0 objects: ``directory.hsds.selectors`` loads,
``directory.hsds.serializing`` shapes. The HSDS API and ``hsds_export`` both call these, so they
give the same objects; each costs a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from network.models import Network

from ..models import ServicePage
from . import selectors
from .serializing import (
    HsdsObject,
    _rows,
    organization_object,
    service_at_location_object,
    service_minimal,
    service_object,
    taxonomy_objects,
    taxonomy_term_objects,
)


def service_objects(
    services: list[Any], *, network: Network, full: bool, minimal: bool = False
) -> list[HsdsObject]:
    if minimal:
        return [service_minimal(s) for s in services]
    made = _service_pairs([s.pk for s in services], network=network, full=full)
    return [made_one[1 if full else 2] for made_one in made]


def service_documents(
    pks: Sequence[int], *, network: Network
) -> list[tuple[Any, HsdsObject, HsdsObject]]:
    """(the loaded service, its fully nested object, its list form) of each published service
    among ``pks``, in their order, from one load."""
    return _service_pairs(pks, network=network, full=True)


def _service_pairs(
    pks: Sequence[int], *, network: Network, full: bool
) -> list[tuple[Any, HsdsObject, HsdsObject]]:
    """(service, full object or {}, list form) of each published service among ``pks``."""
    loaded = selectors.services_load(
        selectors.published_services_among(network=network, pks=pks),
        full=full,
        location_details=False,
    )
    by_pk = {s.pk: s for s in loaded}
    agencies = selectors.agencies_of(loaded, nested=full)
    organizations: dict[str, HsdsObject] = {}
    result = []
    for service in (by_pk[pk] for pk in pks if pk in by_pk):
        agency = agencies[service.path[: -ServicePage.steplen]]
        if full and agency.path not in organizations:
            organizations[agency.path] = organization_object(agency, nested=True)
        nested = (
            service_object(
                service,
                agency=agency,
                network=network,
                full=True,
                organization=organizations[agency.path],
            )
            if full
            else {}
        )
        summary = service_object(service, agency=agency, network=network, full=False)
        result.append((service, nested, summary))
    return result


def organization_objects(
    agencies: list[Any], *, network: Network, nested: bool, with_services: bool
) -> list[HsdsObject]:
    if not nested:
        return [organization_object(a, nested=False) for a in agencies]
    loaded = selectors.agencies_load(
        selectors.published_agencies(network=network).filter(pk__in=[a.pk for a in agencies]),
        nested=True,
    )
    by_path = {a.path: a for a in loaded}
    services_by_agency: dict[str, list[HsdsObject]] = {}
    if with_services:
        services = list(
            selectors.published_services(network=network)
            .filter(path__regex=_any_prefix([a.path for a in loaded]))
            .only("pk", "path")
        )
        for service in service_objects(services, network=network, full=True):
            services_by_agency.setdefault(service["organization_id"], []).append(service)
    return [
        organization_object(
            by_path[a.path],
            nested=True,
            services=services_by_agency.get(str(a.hsds_id), []) if with_services else None,
        )
        for a in agencies
        if a.path in by_path
    ]


def _any_prefix(paths: list[str]) -> str:
    # Tree paths are alphanumeric: no escaping needed.
    return "^(" + "|".join(paths) + ")" if paths else "^$x"


def service_at_location_objects(
    sals: list[Any], *, network: Network, full: bool
) -> list[HsdsObject]:
    services = {
        s.pk: s
        for s in selectors.services_load(
            selectors.published_services_among(network=network, pks={sal.page_id for sal in sals}),
            full=True,
        )
    }
    agencies = selectors.agencies_of(list(services.values()), nested=False)
    result = []
    for sal in sals:
        service = services[sal.page_id]
        match = next(s for s in _rows(service, "service_locations") if s.pk == sal.pk)
        obj = service_at_location_object(
            match,
            service=service,
            agency=agencies[service.path[: -ServicePage.steplen]],
            nested=full,
        )
        distance = getattr(sal, "distance", None)
        if distance is not None:
            obj["distance"] = round(distance)  # an extension: metres from the postcode's centre
        result.append(obj)
    return result


def taxonomies(*, network: Network) -> list[HsdsObject]:
    return taxonomy_objects(network, selectors.network_terms(network=network))


def taxonomy_terms(*, network: Network) -> list[HsdsObject]:
    return taxonomy_term_objects(network, selectors.network_terms(network=network))
