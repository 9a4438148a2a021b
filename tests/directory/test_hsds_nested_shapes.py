"""Nested HSDS 3.0 JSON shaped like the specification's published examples imports with its ids
kept: one phone, schedule and language object repeated under the service, its service at
location, that place's location and contact, and the organization; 3.0.1 ``additional_urls``
and ``additional_websites``; schedule ``count`` as a number and ``bymonthday`` as text."""

from __future__ import annotations

import json

import pytest

from directory.hsds.importing import directory_import
from directory.hsds.reading import read
from directory.models import AgencyPage, ServicePage
from tests.network.factories import network_make

SERVICE_ID = "5b0c6d3e-2f41-4c8a-9a57-0d2f3e4b5a61"
ORG_ID = "7e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
LOCATION_ID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
PLACE_ID = "9f8e7d6c-5b4a-4c3d-8e2f-1a0b9c8d7e6f"


def _document() -> dict:
    language = {"id": "11111111-2222-4333-8444-555555555555", "name": "Tagalog", "code": "tl"}
    phone = {
        "id": "22222222-3333-4444-8555-666666666666",
        "number": "+1 555 0100",
        "extension": 12,
        "type": "voice",
        "languages": [language],
    }
    schedule = {
        "id": "33333333-4444-4555-8666-777777777777",
        "freq": "WEEKLY",
        "interval": 1,
        "count": 4,
        "byday": "MO,WE",
        "bymonthday": "1,15",
        "timezone": -5,
        "opens_at": "09:00:00",
        "closes_at": "17:00:00",
    }
    contact = {"id": "44444444-5555-4666-8777-888888888888", "name": "Desk", "phones": [phone]}
    links = [
        {"id": "55555555-6666-4777-8888-999999999999", "label": "Site", "url": "https://x.example"}
    ]
    location = {
        "id": LOCATION_ID,
        "location_type": "physical",
        "name": "Hall",
        "latitude": 40.7,
        "longitude": -74.0,
        "languages": [language],
        "addresses": [
            {
                "id": "66666666-7777-4888-8999-aaaaaaaaaaaa",
                "address_1": "1 Main St",
                "city": "Town",
                "state_province": "NY",
                "postal_code": "10001",
                "country": "US",
                "address_type": "physical",
            }
        ],
        "contacts": [contact],
        "phones": [phone],
        "schedules": [schedule],
    }
    return {
        "id": SERVICE_ID,
        "name": "Tenant help",
        "description": "Advice for renters.",
        "status": "active",
        "additional_urls": links,
        "minimum_age": 18,
        "phones": [phone],
        "schedules": [schedule],
        "languages": [language],
        "service_at_locations": [
            {
                "id": PLACE_ID,
                "contacts": [contact],
                "phones": [phone],
                "schedules": [schedule],
                "location": location,
            }
        ],
        "organization": {
            "id": ORG_ID,
            "name": "Renters Union",
            "description": "Member organization.",
            "additional_websites": links,
            "year_incorporated": 1999,
            "contacts": [contact],
            "phones": [phone],
            "locations": [location],
        },
    }


@pytest.mark.django_db
def test_a_service_nested_like_the_published_examples_imports_with_its_ids(tmp_path):
    source = tmp_path / "service.json"
    source.write_text(json.dumps(_document()), encoding="utf-8")
    network = network_make("Shapes")
    report = directory_import(network=network, dataset=read(source))  # raises on any problem
    service = ServicePage.objects.get(title="Tenant help")
    assert str(service.hsds_id) == SERVICE_ID
    assert str(AgencyPage.objects.get(title="Renters Union").hsds_id) == ORG_ID
    assert not [w for w in report.warnings if "duplicate" in str(w).lower()]
