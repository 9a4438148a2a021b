"""The demo networks' agencies and services as an HSDS dataset, for the directory importer."""

from __future__ import annotations

import uuid
from collections import defaultdict
from types import ModuleType
from typing import Any

from directory.hsds.reading import Dataset
from directory.hsds.records import NAMESPACE, handoff_taxonomies, well_known_term_id

DAY_CODES = {
    "mon": "MO",
    "tue": "TU",
    "wed": "WE",
    "thu": "TH",
    "fri": "FR",
    "sat": "SA",
    "sun": "SU",
}


def demo_id(network: str, *parts: str) -> str:
    """Stable ids, so re-running the demo upserts the same rows."""
    return str(uuid.uuid5(NAMESPACE, ":".join(("demo", network, *parts))))


def demo_dataset(module: ModuleType) -> Dataset:
    """HSDS rows for a demo module's agencies (see ``network/demo/humboldt.py``)."""
    net = module.NETWORK["slug"]
    dataset = Dataset()

    def add(table: str, row: dict[str, Any]) -> None:
        dataset.add(
            table,
            {k: "" if v is None else v for k, v in row.items()},
            source=f"demo:{net}:{table}",
            number=len(dataset.rows(table)) + 1,
        )

    taxonomies, terms = handoff_taxonomies()
    for row in taxonomies:
        add("taxonomies", row)
    for row in terms:
        add("taxonomy_terms", row)
    for agency in module.AGENCIES:
        slug = agency["slug"]
        org_id = demo_id(net, slug)
        location_id = demo_id(net, slug, "location")
        add(
            "organizations",
            {
                "id": org_id,
                "name": agency["name"],
                "description": agency["description"],
                "email": agency["email"],
                "website": agency["website"],
            },
        )
        add(
            "phones",
            {
                "id": demo_id(net, slug, "phone"),
                "organization_id": org_id,
                "number": agency["phone"],
                "type": "voice",
            },
        )
        add(
            "locations",
            {
                "id": location_id,
                "organization_id": org_id,
                "name": agency["name"],
                "location_type": "physical",
                "latitude": agency["latitude"],
                "longitude": agency["longitude"],
            },
        )
        add(
            "addresses",
            {
                "id": demo_id(net, slug, "address"),
                "location_id": location_id,
                "address_1": agency["address_1"],
                "city": agency["city"],
                "state_province": agency["state"],
                "postal_code": agency["postal_code"],
                "country": "US",
                "address_type": "physical",
            },
        )
        for service in agency["services"]:
            _service(add, net, slug, org_id, location_id, service)
    return dataset


def _service(
    add: Any, net: str, agency: str, org_id: str, location_id: str, service: dict[str, Any]
) -> None:
    key = (agency, service["slug"])
    service_id = demo_id(net, *key)
    add(
        "services",
        {
            "id": service_id,
            "organization_id": org_id,
            "name": service["name"],
            "description": service["description"],
            "status": "active",
            "eligibility_description": service["eligibility"],
            "minimum_age": service["minimum_age"],
            "maximum_age": service["maximum_age"],
            "fees_description": service["fee_description"],
            "application_process": service["application_process"],
            "wait_time": service["wait_time"],
        },
    )
    sal_id = demo_id(net, *key, "at")
    add("service_at_location", {"id": sal_id, "service_id": service_id, "location_id": location_id})
    # One HSDS schedule per distinct opening time, listing its days.
    days_by_time: dict[tuple[str, str], list[str]] = defaultdict(list)
    for day, opens, closes in service["hours"]:
        days_by_time[(opens, closes)].append(DAY_CODES[day])
    for (opens, closes), days in days_by_time.items():
        add(
            "schedules",
            {
                "id": demo_id(net, *key, "hours", opens, closes),
                "service_at_location_id": sal_id,
                "freq": "WEEKLY",
                "byday": ",".join(days),
                "opens_at": opens,
                "closes_at": closes,
            },
        )
    for code in service["languages"]:
        add(
            "languages",
            {"id": demo_id(net, *key, "lang", code), "service_id": service_id, "code": code},
        )
    for zip_code in service["service_area_zips"]:
        add(
            "service_areas",
            {
                "id": demo_id(net, *key, "area", zip_code),
                "service_id": service_id,
                "name": zip_code,
            },
        )
    for document in service["required_documents"]:
        add(
            "required_documents",
            {
                "id": demo_id(net, *key, "doc", document),
                "service_id": service_id,
                "document": document,
            },
        )
    links = [("sdohcc", code) for code in service["categories"]]
    links += [("fee", service["fee"]), ("referral", service["referral_method"])]
    for taxonomy, code in links:
        term_id = str(well_known_term_id(taxonomy, code))
        add(
            "attributes",
            {
                "id": demo_id(net, *key, "attr", taxonomy, code),
                "link_id": service_id,
                "link_entity": "service",
                "taxonomy_term_id": term_id,
            },
        )
