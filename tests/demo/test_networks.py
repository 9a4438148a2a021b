"""The demo's files read cleanly: each network's HSDS package as ``hsds_import`` reads it, and its
network.toml, whose agencies are the package's organizations."""

from __future__ import annotations

import csv
import json

import pytest

from demo.networks import NETWORKS, demo_network, directory_dataset, directory_path
from directory.hsds.building import build


@pytest.mark.parametrize("slug", NETWORKS)
def test_each_network_reads_without_problems(slug):
    dataset = directory_dataset(slug)
    assert dataset.warnings == []
    assert dataset.errors == []
    directory = build(dataset)
    assert directory.warnings == []
    network = demo_network(slug, dataset)
    assert network.slug == slug
    assert [spec.name for spec in network.agencies] == [o.name for o in directory.organizations]
    assert all(spec.details["phone"] and spec.details["city"] for spec in network.agencies)


@pytest.mark.parametrize("slug", NETWORKS)
def test_datapackage_describes_every_csv_file(slug):
    folder = directory_path(slug)
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    described = {resource["path"]: resource for resource in package["resources"]}
    assert set(described) == {path.name for path in folder.glob("*.csv")}
    for name, resource in described.items():
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle))
        assert [field["name"] for field in resource["schema"]["fields"]] == header, name
