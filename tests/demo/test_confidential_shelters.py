"""The demo's domestic-violence shelters keep their addresses confidential: the flag is in
their HSDS packages, so ``seed_demo`` (which imports them) sets it, and the public directory of
the seeded network shows no street address for them."""

from __future__ import annotations

import pytest

from demo.networks import directory_dataset
from directory.hsds.building import build
from directory.hsds.importing import directory_import
from directory.models import Location, ServicePage
from tests.network.factories import network_make

SHELTERS = {
    "humboldt": {"Humboldt Safe Passage Alliance", "Mountain Laurel Safe Home"},
    "del-norte": {"North Bluff Safe Haven"},
}


@pytest.mark.parametrize("slug", sorted(SHELTERS))
def test_only_the_shelters_are_confidential_in_the_demo_packages(slug):
    directory = build(directory_dataset(slug))
    confidential = {
        location.name
        for organization in directory.organizations
        for location in organization.locations
        if location.address_confidential
    }
    assert confidential == SHELTERS[slug]


@pytest.mark.django_db
def test_the_seeded_shelter_shows_no_street_address_in_the_public_directory(client):
    network = network_make("Del Norte Demo")
    directory_import(network=network, dataset=directory_dataset("del-norte"))
    location = Location.objects.get(name="North Bluff Safe Haven")
    assert location.address_confidential
    assert location.address_1 == "285 K St"  # kept for the network's staff
    service = ServicePage.objects.get(title="Confidential Emergency Shelter")
    response = client.get(
        service.url_path[len(network.root_page.url_path) - 1 :], HTTP_HOST=network.site.hostname
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "285 K St" not in html
    assert "Crescent City, CA" in html
